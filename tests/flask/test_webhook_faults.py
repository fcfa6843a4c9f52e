"""The webhook blueprint under faults: no token in any log record, 503 with Retry-After while
the event store is locked (then the retry stores once), and a concurrent burst over real HTTP."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.flask import Acumbamail
from flask import Flask

from tests.logcheck import capture_everything, records_with
from tests.webhook_faults import batch, burst, locked_store
from tests.webhooks.hostile import HOSTILE

from .conftest import TOKEN

URL = f"/acumbamail/webhook/{TOKEN}"


@pytest.fixture
def hooked(make_app: Callable[..., Flask], tmp_path: Path) -> Flask:
    app = make_app(ACUMBAMAIL_WEBHOOK_TOKEN=TOKEN, ACUMBAMAIL_STORE=str(tmp_path / "events.sqlite3"))
    mail = Acumbamail(app)
    app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
    return app


@pytest.fixture
def locked(hooked: Flask, tmp_path: Path) -> Iterator[tuple[SQLiteEventStore, sqlite3.Connection]]:
    """The app on a SQLite store whose file another connection holds with BEGIN EXCLUSIVE."""
    with locked_store(tmp_path / "locked.sqlite3") as (store, blocker):
        hooked.config["ACUMBAMAIL_STORE"] = store
        yield store, blocker


def test_no_answer_puts_the_token_in_a_log_record(hooked: Flask, locked: Any,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    client = hooked.test_client()
    with capture_everything(caplog) as records:
        answers = [
            client.post(URL, data=b"", content_type="application/json").status_code,
            client.post(URL, data=b"not json", content_type="application/json").status_code,
            client.get(URL).status_code,
            client.post(f"{URL}x", data=batch("a@example.com"), content_type="application/json").status_code,
            client.post(f"/acumbamail/webhook?token={TOKEN}", data=batch("a@example.com"),
                        content_type="application/json").status_code,
            client.post(URL, data=batch("a@example.com"), content_type="application/json").status_code,
        ]
    assert answers == [400, 400, 405, 403, 503, 503]
    assert any(r.name == "acumbamail_smtp.webhooks" for r in records)
    assert records_with(records, TOKEN) == []


def test_a_locked_store_answers_503_with_retry_after_then_the_retry_stores_once(hooked: Flask,
                                                                                locked: Any) -> None:
    store, blocker = locked
    client = hooked.test_client()
    body = batch("gone@example.com", "ana@example.com")
    response = client.post(URL, data=body, content_type="application/json")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["status"] == "error" and "unavailable" in response.get_json()["error"]
    blocker.execute("ROLLBACK")
    assert list(store.events()) == []
    retry = client.post(URL, data=body, content_type="application/json")
    assert retry.status_code == 200 and retry.get_json()["stored"] == 2
    assert client.post(URL, data=body, content_type="application/json").get_json()["duplicates"] == 2
    assert sorted(e.recipient for e in store.events()) == ["ana@example.com", "gone@example.com"]


def test_a_concurrent_burst_over_http_loses_nothing(hooked: Flask, flask_server: Any) -> None:
    statuses = burst(flask_server(hooked) + URL)
    assert statuses == [200] * 160
    with hooked.app_context():
        store = hooked.extensions["acumbamail"].extension.store
        events = list(store.events())
    assert len(events) == 800
    assert len({e.recipient for e in events}) == 800


@pytest.mark.parametrize(("body", "content_type", "status"),
                         [pytest.param(b, c, s, id=name) for name, b, c, s in HOSTILE])
def test_hostile_bodies_get_a_2xx_or_a_400_never_a_500(hooked: Flask, body: bytes, content_type: str,
                                                        status: int) -> None:
    response = hooked.test_client().post(URL, data=body, headers={"Content-Type": content_type})
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.json is not None and response.json["status"] == ("ok" if status == 200 else "error")
