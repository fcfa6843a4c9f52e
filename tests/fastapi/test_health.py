"""The health router of the FastAPI adapter, over FastAPI's test client, against the fake relay."""

from __future__ import annotations

from pathlib import Path

from acumbamail_smtp import RelayConfig, SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import acumbamail_lifespan, health_router
from acumbamail_smtp.testserver import FakeRelay
from fastapi import FastAPI
from fastapi.testclient import TestClient

from .conftest import PASSWORD


def test_health_router_answers_each_check(config: RelayConfig, relay: FakeRelay, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")

    def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        return acumbamail_lifespan(app, config=config, store=store)

    app = FastAPI(lifespan=lifespan)
    app.include_router(health_router(), prefix="/acumbamail")
    with TestClient(app) as client:
        response = client.get("/acumbamail/health")
        assert response.status_code == 200, response.json()
        assert set(response.json()["checks"]) == {"relay", "store", "outbox"}  # the SQLite store holds the outbox table
        relay.fail_auth()
        failing = client.get("/acumbamail/health")
        assert failing.status_code == 503
        assert failing.json()["checks"]["relay"]["ok"] is False
        assert PASSWORD not in failing.text
        assert client.get("/acumbamail/health?relay=false").status_code == 200
