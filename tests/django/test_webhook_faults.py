"""The webhook endpoint under faults: no token in any log line (Django's ``django.request``
logger included), 503 with Retry-After while the event store is locked, and a concurrent burst
over real HTTP with nothing lost."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.request import Request, urlopen

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.django.models import Event as EventRow
from django.core.handlers.wsgi import WSGIHandler
from django.test import Client
from werkzeug.serving import make_server

from tests.django.settings import WEBHOOK_TOKEN
from tests.logcheck import capture_everything, records_with

URL = f"/acumbamail/webhook/{WEBHOOK_TOKEN}/"


def batch(*emails: str, name: str = "hard_bounces", key: str = "Q1") -> str:
    return json.dumps({str(n): {"event": name, "email": email, "email_key": key, "timestamp": 1734436800 + n}
                       for n, email in enumerate(emails, 1)})


@pytest.fixture
def locked_store(tmp_path: Path, settings: Any) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    """The endpoint on a SQLite store whose file another connection holds with BEGIN EXCLUSIVE."""
    path = tmp_path / "locked.sqlite3"
    store = SQLiteEventStore(path, timeout=0.05)
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "STORE": store}
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        yield store, blocker
    finally:
        if blocker.in_transaction:
            blocker.execute("ROLLBACK")
        blocker.close()
        store.close()


@pytest.mark.django_db
def test_no_answer_puts_the_token_in_a_log_record(client: Client, locked_store: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with capture_everything(caplog) as records:
        answers = [
            client.post(URL, "", content_type="application/json").status_code,          # empty body
            client.post(URL, "not json", content_type="application/json").status_code,  # bad body
            client.get(URL).status_code,                                               # wrong method
            client.post(f"/acumbamail/webhook/{WEBHOOK_TOKEN}x/", batch("a@example.com"),
                        content_type="application/json").status_code,                  # wrong token
            client.post(f"/acumbamail/webhook/?token={WEBHOOK_TOKEN}", batch("a@example.com"),
                        content_type="application/json").status_code,                  # store locked
            client.post(URL, batch("a@example.com"), content_type="application/json").status_code,
        ]
    assert answers == [400, 400, 405, 403, 503, 503]
    assert any(r.name == "acumbamail_smtp.webhooks" for r in records)  # the core did log each one
    assert records_with(records, WEBHOOK_TOKEN) == []


@pytest.mark.django_db
def test_a_locked_store_answers_503_with_retry_after_then_the_retry_stores_once(
        client: Client, locked_store: Any) -> None:
    store, blocker = locked_store
    body = batch("gone@example.com", "ana@example.com", name="hard_bounces")
    response = client.post(URL, body, content_type="application/json")
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert response.json()["status"] == "error" and "unavailable" in response.json()["error"]
    blocker.execute("ROLLBACK")
    assert list(store.events()) == []
    retry = client.post(URL, body, content_type="application/json")
    assert retry.status_code == 200 and retry.json()["stored"] == 2
    assert client.post(URL, body, content_type="application/json").json()["duplicates"] == 2
    assert sorted(e.recipient for e in store.events()) == ["ana@example.com", "gone@example.com"]
    assert store.suppressed(["gone@example.com", "ana@example.com"]) == {"gone@example.com", "ana@example.com"}


@pytest.fixture
def live_app() -> Iterator[str]:
    """The Django project on 127.0.0.1 behind werkzeug's threaded server (one thread a request)."""
    server = make_server("127.0.0.1", 0, WSGIHandler(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def burst(url: str, threads: int = 8, posts: int = 20, per_post: int = 5) -> list[int]:
    """``threads`` clients each posting ``posts`` batches of ``per_post`` distinct events; the statuses."""
    statuses: list[int] = []
    lock = threading.Lock()

    def client(worker: int) -> None:
        for n in range(posts):
            emails = [f"w{worker}-p{n}-e{i}@example.com" for i in range(per_post)]
            request = Request(url, batch(*emails, name="delivered", key=f"K{worker}-{n}").encode(),
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


@pytest.mark.django_db(transaction=True)  # the server threads must see and write the real tables
def test_a_concurrent_burst_over_http_loses_nothing(live_app: str) -> None:
    statuses = burst(f"{live_app}{URL}")
    assert statuses == [200] * 160
    assert EventRow.objects.count() == 800
    assert EventRow.objects.values("recipient").distinct().count() == 800
