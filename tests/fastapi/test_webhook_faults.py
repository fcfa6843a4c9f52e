"""The webhook router under faults: no token in any log record, 503 with Retry-After while the
event store is locked (then the retry stores once), and a concurrent burst through uvicorn."""

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import webhook_router
from fastapi import FastAPI

from tests.fastapi.helpers import free_socket, running, serve
from tests.logcheck import capture_everything, records_with

TOKEN = "made-up-webhook-token-9c41e7"
URL = f"/acumbamail/webhook/{TOKEN}"
JSON = {"content-type": "application/json"}


def batch(*emails: str, name: str = "hard_bounces", key: str = "Q1") -> bytes:
    return json.dumps({str(n): {"event": name, "email": email, "email_key": key, "timestamp": 1734436800 + n}
                       for n, email in enumerate(emails, 1)}).encode()


def hook_app(store: SQLiteEventStore) -> FastAPI:
    app = FastAPI()
    app.include_router(webhook_router(store=store, token=TOKEN), prefix="/acumbamail")
    return app


@pytest.fixture
def locked(tmp_path: Path) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    """A SQLite store whose file another connection holds with BEGIN EXCLUSIVE."""
    path = tmp_path / "locked.sqlite3"
    store = SQLiteEventStore(path, timeout=0.05)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield store, blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        store.close()


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


def burst(url: str, threads: int = 8, posts: int = 20, per_post: int = 5) -> list[int]:
    """``threads`` clients each posting ``posts`` batches of ``per_post`` distinct events; the statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for n in range(posts):
            emails = [f"w{worker}-p{n}-e{i}@example.com" for i in range(per_post)]
            request = Request(url, batch(*emails, name="delivered", key=f"K{worker}-{n}"),
                              headers={"Content-Type": "application/json"}, method="POST")
            with urlopen(request, timeout=30) as answer:
                with lock:
                    statuses.append(answer.status)

    workers = [threading.Thread(target=client, args=(w,)) for w in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    return statuses


def test_a_concurrent_burst_through_uvicorn_loses_nothing(tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        with serve(hook_app(store), free_socket()) as base:
            statuses = burst(base + URL)
        assert statuses == [200] * 160
        events = list(store.events())
    assert len(events) == 800
    assert len({e.recipient for e in events}) == 800
