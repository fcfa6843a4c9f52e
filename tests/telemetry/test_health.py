"""``acumbamail_smtp.health()`` against the fake relay and a real SQLite store."""

from __future__ import annotations

import sys
import types
from datetime import timedelta
from pathlib import Path

import pytest
from acumbamail_smtp import SQLiteEventStore, health
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD


def test_healthy_relay_and_store(relay: FakeRelay, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    report = health(relay.client_config(), store)
    assert report.ok and report.status == 200
    assert [c.name for c in report.checks] == ["relay", "store"]
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


def test_outbox_age_when_an_outbox_exists(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    assert [c.name for c in health(store=store, relay=False).checks] == ["store"]  # no outbox module yet
    ages = {"age": timedelta(seconds=90)}
    stats = types.SimpleNamespace(oldest_queued_age=None)
    fake = types.ModuleType("acumbamail_smtp.outbox")
    fake.outbox_for = lambda s: types.SimpleNamespace(stats=lambda: stats)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "acumbamail_smtp.outbox", fake)  # the outbox's announced shape
    assert health(store=store, relay=False).as_dict()["checks"]["outbox"] == {"ok": True, "detail": "empty"}
    stats.oldest_queued_age = ages["age"]
    assert health(store=store, relay=False, max_outbox_age=120).ok
    late = health(store=store, relay=False, max_outbox_age=60)
    assert not late.ok and "90s" in late.as_dict()["checks"]["outbox"]["detail"]
