"""The webhook endpoint under faults: no token in any log line (Django's ``django.request``
logger included), 503 with Retry-After while the event store is locked, and a concurrent burst
over real HTTP with nothing lost."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.django.models import Event as EventRow
from django.test import Client

from tests.django.settings import WEBHOOK_TOKEN
from tests.logcheck import capture_everything, records_with
from tests.webhook_faults import batch, burst, locked_store
from tests.webhooks.hostile import HOSTILE

URL = f"/acumbamail/webhook/{WEBHOOK_TOKEN}/"


@pytest.fixture
def locked(tmp_path: Path, settings: Any) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    """The endpoint on a SQLite store whose file another connection holds with BEGIN EXCLUSIVE."""
    with locked_store(tmp_path / "locked.sqlite3") as (store, blocker):
        settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "STORE": store}
        yield store, blocker


@pytest.mark.django_db
def test_no_answer_puts_the_token_in_a_log_record(client: Client, locked: Any,
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
        client: Client, locked: Any) -> None:
    store, blocker = locked
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


@pytest.mark.django_db(transaction=True)  # the server threads must see and write the real tables
def test_a_concurrent_burst_over_http_loses_nothing(live_app: str) -> None:
    statuses = burst(f"{live_app}{URL}")
    assert statuses == [200] * 160
    assert EventRow.objects.count() == 800
    assert EventRow.objects.values("recipient").distinct().count() == 800


# Not the NUL in a Content-Type: Django's own WSGIRequest() raises on it before any view runs, and
# HTTP servers refuse a NUL in a header (RFC 9110), so only the test client could send it.
@pytest.mark.django_db
@pytest.mark.parametrize(("body", "content_type", "status"),
                         [pytest.param(b, c, s, id=name) for name, b, c, s in HOSTILE if "\x00" not in c])
def test_hostile_bodies_get_a_2xx_or_a_400_never_a_500(client: Client, body: bytes, content_type: str,
                                                        status: int) -> None:
    # generic(), not post(): post() re-encodes the body in the content type's charset
    response = client.generic("POST", URL, body, content_type=content_type)
    assert response.status_code == status, response.content
    assert response.json()["status"] == ("ok" if status == 200 else "error")
