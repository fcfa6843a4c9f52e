"""``acumbamail_smtp.health()`` against the fake relay and a real SQLite store."""

from __future__ import annotations

import time
from pathlib import Path

from acumbamail_smtp import SQLiteEventStore, health
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD


def test_healthy_relay_and_store(relay: FakeRelay, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    report = health(relay.client_config(), store)
    assert report.ok and report.status == 200
    assert [c.name for c in report.checks] == ["relay", "store", "outbox"]  # the store's outbox table
    assert report.checks[2].detail == "empty"
    assert report.as_dict()["status"] == "ok"
    assert list(store.suppressions()) == [], "the write check must leave no row behind"


def test_relay_down_or_store_closed_fails(relay: FakeRelay, tmp_path: Path) -> None:
    config = relay.client_config()
    relay.stop()
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    store.close()
    report = health(config, store)
    assert not report.ok and report.status == 503
    body = report.as_dict()
    assert body["status"] == "failing"
    assert body["checks"]["relay"]["ok"] is False and body["checks"]["store"]["ok"] is False
    assert PASSWORD not in str(body)


def test_a_refused_login_is_reported_without_the_password(relay: FakeRelay) -> None:
    relay.fail_auth()
    report = health(relay.client_config())
    assert not report.ok
    assert PASSWORD not in str(report.as_dict())


def test_outbox_age_when_an_outbox_exists(tmp_path: Path) -> None:
    from acumbamail_smtp import Message
    from acumbamail_smtp.outbox import outbox_for

    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    assert health(store=store, relay=False).as_dict()["checks"]["outbox"] == {"ok": True, "detail": "empty"}
    outbox_for(store).enqueue(Message(from_email="shop@example.com", to="ana@example.org", subject="Hi",
                                      text="queued"))
    time.sleep(0.05)  # the oldest message is now measurably old
    assert health(store=store, relay=False, max_outbox_age=3600).ok
    late = health(store=store, relay=False, max_outbox_age=0)
    assert not late.ok and "oldest queued message" in late.as_dict()["checks"]["outbox"]["detail"]
