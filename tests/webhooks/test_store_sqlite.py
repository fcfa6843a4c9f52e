"""The embedded SQLite store: the shared contract, plus what only a file database has."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from acumbamail_smtp import ConfigError, EventType, SQLiteEventStore, open_store
from acumbamail_smtp.store.sqlite import SCHEMA_VERSION

from tests.webhooks.helpers import event, send_result
from tests.webhooks.store_contract import EventStoreContract, StoreFactory


class TestSQLiteEventStore(EventStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        return lambda: SQLiteEventStore(tmp_path / "events.sqlite3")


def test_schema_wal_indexes_and_version(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    SQLiteEventStore(path).close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
        indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"ix_sends_queue_id", "ix_sends_recipient_sent_at", "ix_sends_category_sent_at",
            "ix_events_type_timestamp", "ix_events_category_timestamp",
            "ix_events_recipient_timestamp"} <= indexes


def test_reopening_keeps_the_data(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    with SQLiteEventStore(path) as store:
        store.record_sends([send_result()])
        store.store_events([event(EventType.DELIVERED, key="Q1")])
        store.suppress("bo@example.com")
    with SQLiteEventStore(path) as store:
        (stored,) = list(store.events())
        assert stored.category == "ORDER"
        assert store.suppressed(["bo@example.com"]) == {"bo@example.com"}
        with sqlite3.connect(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM schema_version").fetchone()[0] == 1


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    SQLiteEventStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    with pytest.raises(ConfigError, match="newer than this library"):
        SQLiteEventStore(path)


def test_an_unusable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="store"):
        SQLiteEventStore(tmp_path / "no-such-dir" / "events.sqlite3")


def test_in_memory_store_works(tmp_path: Path) -> None:
    with SQLiteEventStore(":memory:") as store:
        assert len(store.store_events([event()]).new) == 1
        assert len(list(store.events())) == 1


def test_open_store_picks_sqlite_or_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "from-env.sqlite3"))
    store = open_store()
    assert isinstance(store, SQLiteEventStore)
    assert store.path == str(tmp_path / "from-env.sqlite3")
    store.close()
    explicit = open_store(tmp_path / "explicit.sqlite3")
    assert isinstance(explicit, SQLiteEventStore)
    assert (tmp_path / "explicit.sqlite3").exists()
    explicit.close()
