"""The webhook router under faults: no token in any log record, 503 with Retry-After while the
event store is locked (then the retry stores once), and a concurrent burst through uvicorn."""

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import webhook_router
from fastapi import FastAPI

from tests.fastapi.helpers import free_socket, running, serve
from tests.logcheck import capture_everything, records_with
from tests.webhook_faults import batch, burst, locked_store
from tests.webhooks.hostile import HOSTILE

TOKEN = "made-up-webhook-token-9c41e7"
URL = f"/acumbamail/webhook/{TOKEN}"
JSON = {"content-type": "application/json"}


def hook_app(store: SQLiteEventStore) -> FastAPI:
    app = FastAPI()
    app.include_router(webhook_router(store=store, token=TOKEN), prefix="/acumbamail")
    return app


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    with locked_store(tmp_path / "locked.sqlite3") as held:
        yield held


async def test_no_answer_puts_the_token_in_a_log_record(locked: Any, caplog: pytest.LogCaptureFixture) -> None:
    store, _ = locked
    with capture_everything(caplog) as records:
        async with running(hook_app(store), lifespan=False) as client:
            answers = [
                (await client.post(URL, content=b"", headers=JSON)).status_code,
                (await client.post(URL, content=b"not json", headers=JSON)).status_code,
                (await client.get(URL)).status_code,
                (await client.post(f"{URL}x", content=batch("a@example.com"), headers=JSON)).status_code,
                (await client.post("/acumbamail/webhook", params={"token": TOKEN}, content=batch("a@example.com"),
                                   headers=JSON)).status_code,
                (await client.post(URL, content=batch("a@example.com"), headers=JSON)).status_code,
            ]
    assert answers == [400, 400, 405, 403, 503, 503]
    assert any(r.name == "acumbamail_smtp.webhooks" for r in records)
    # httpx logs each URL it requests: that is the test's client, not the application.
    served = [r for r in records if not r.name.startswith(("httpx", "httpcore"))]
    assert records_with(served, TOKEN) == []


async def test_a_locked_store_answers_503_with_retry_after_then_the_retry_stores_once(locked: Any) -> None:
    store, blocker = locked
    body = batch("gone@example.com", "ana@example.com")
    async with running(hook_app(store), lifespan=False) as client:
        response = await client.post(URL, content=body, headers=JSON)
        assert response.status_code == 503
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["status"] == "error" and "unavailable" in response.json()["error"]
        blocker.execute("ROLLBACK")
        assert list(store.events()) == []
        retry = await client.post(URL, content=body, headers=JSON)
        assert retry.status_code == 200 and retry.json()["stored"] == 2
        assert (await client.post(URL, content=body, headers=JSON)).json()["duplicates"] == 2
    assert sorted(e.recipient for e in store.events()) == ["ana@example.com", "gone@example.com"]


def test_a_concurrent_burst_through_uvicorn_loses_nothing(tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        with serve(hook_app(store), free_socket()) as base:
            statuses = burst(base + URL)
        assert statuses == [200] * 160
        events = list(store.events())
    assert len(events) == 800
    assert len({e.recipient for e in events}) == 800


@pytest.mark.parametrize(("body", "content_type", "status"),
                         [pytest.param(b, c, s, id=name) for name, b, c, s in HOSTILE])
async def test_hostile_bodies_get_a_2xx_or_a_400_never_a_500(tmp_path: Path, body: bytes, content_type: str,
                                                              status: int) -> None:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        async with running(hook_app(store), lifespan=False) as client:
            response = await client.post(URL, content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["status"] == ("ok" if status == 200 else "error")
