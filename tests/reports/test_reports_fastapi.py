"""The FastAPI router, included in a tiny app that protects it with its own dependency."""

from __future__ import annotations

from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.fastapi.reports import reports_router
from fastapi import Depends, FastAPI, Header, HTTPException
from fastapi.testclient import TestClient

from tests.reports.web_checks import check_views

TOKEN = "made-up-admin-token"


def require_admin(x_admin_token: str | None = Header(default=None)) -> None:
    if x_admin_token != TOKEN:
        raise HTTPException(status_code=403, detail="admins only")


@pytest.fixture
def client(store: SQLiteEventStore) -> Any:
    app = FastAPI()
    app.include_router(reports_router(store), prefix="/admin/mail", dependencies=[Depends(require_admin)])
    with TestClient(app) as client:
        yield client


def test_the_views(client: Any) -> None:
    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        response = client.get(path, headers={"X-Admin-Token": TOKEN})
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content

    check_views(get, "/admin/mail/")


def test_the_application_protects_it(client: Any) -> None:
    for path in ("/admin/mail/", "/admin/mail/recipients.json", "/admin/mail/recipients.csv"):
        response = client.get(path)
        assert response.status_code == 403
        assert b"example.org" not in response.content


def test_a_store_factory_is_called_per_request(store: SQLiteEventStore) -> None:
    calls = []

    def factory() -> SQLiteEventStore:
        calls.append(1)
        return store

    app = FastAPI()
    app.include_router(reports_router(factory), prefix="/r")
    with TestClient(app) as client:
        assert client.get("/r/summary.json").json()["summary"]["sent"] == 9
    assert calls == [1]
