"""The SQLAlchemy store: the shared contract on SQLite always, on PostgreSQL when
ACUMBAMAIL_TEST_POSTGRES_URL names a server (missing under CI is a failure, not a skip)."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import ConfigError, EventType, SQLiteEventStore, open_store
from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore
from sqlalchemy import inspect

from tests.webhooks.helpers import event, send_result
from tests.webhooks.store_contract import EventStoreContract, StoreFactory


class TestSQLAlchemyOnSQLite(EventStoreContract):
    @pytest.fixture
    def store_factory(self, tmp_path: Path) -> StoreFactory:
        url = f"sqlite:///{tmp_path / 'events.sqlite3'}"
        return lambda: SQLAlchemyEventStore(url)


@pytest.mark.postgres
class TestSQLAlchemyOnPostgres(EventStoreContract):
    @pytest.fixture
    def store_factory(self, postgres_url: str, pg_schema: str) -> StoreFactory:
        return lambda: SQLAlchemyEventStore(postgres_url, schema=pg_schema)


@pytest.mark.postgres
def test_postgres_schema_has_the_unique_event_id_and_indexes(postgres_url: str, pg_schema: str) -> None:
    store = SQLAlchemyEventStore(postgres_url, schema=pg_schema)
    try:
        inspector = inspect(store.engine)
        uniques = inspector.get_unique_constraints("events", schema=pg_schema)
        assert [u["column_names"] for u in uniques] == [["event_id"]]
        names = {i["name"] for i in inspector.get_indexes("events", schema=pg_schema)}
        assert {"ix_events_type_timestamp", "ix_events_category_timestamp",
                "ix_events_recipient_timestamp"} <= names
        columns = {c["name"]: c for c in inspector.get_columns("events", schema=pg_schema)}
        assert columns["timestamp"]["type"].timezone is True  # timestamptz
    finally:
        store.close()


def test_both_stores_share_one_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "events.sqlite3"
    with SQLiteEventStore(path) as embedded:
        embedded.record_sends([send_result(queue_id="QS", category="SHARED")])
        embedded.store_events([event(EventType.DELIVERED, key="QS")])
    with SQLAlchemyEventStore(f"sqlite:///{path}") as through_sqlalchemy:
        (stored,) = list(through_sqlalchemy.events())
        assert (stored.category, stored.timestamp) == ("SHARED", event().timestamp)
        assert len(through_sqlalchemy.store_events([event(EventType.DELIVERED, key="QS")]).duplicates) == 1
        through_sqlalchemy.store_events([event(EventType.OPENED, key="QS")])
    with SQLiteEventStore(path) as embedded:
        assert [e.type for e in embedded.events()] == [EventType.DELIVERED, EventType.OPENED]
        assert [e.category for e in embedded.events()] == ["SHARED", "SHARED"]


def test_in_memory_url_works_across_threads() -> None:
    import threading

    with SQLAlchemyEventStore("sqlite://") as store:
        thread = threading.Thread(target=lambda: store.store_events([event()]))
        thread.start()
        thread.join(10)
        assert len(list(store.events())) == 1


def test_open_store_takes_a_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'u.sqlite3'}")
    try:
        assert isinstance(store, SQLAlchemyEventStore)
    finally:
        store.close()


def test_bad_urls_are_config_errors_without_the_password() -> None:
    with pytest.raises(ConfigError, match="not a SQLAlchemy URL"):
        SQLAlchemyEventStore("no url at all")
    with pytest.raises(ConfigError) as info:
        SQLAlchemyEventStore("nosuchdialect://user:s3cret-pw@127.0.0.1/db")
    assert "s3cret-pw" not in str(info.value)
    with pytest.raises(ConfigError, match="sqlite") as info:
        SQLAlchemyEventStore("sqlite://user:s3cret-pw@/x.db")
    assert "s3cret-pw" not in str(info.value)


@pytest.mark.postgres  # needs the psycopg driver (the postgres extra), not a server
def test_unreachable_postgres_is_a_config_error_without_the_password() -> None:
    with pytest.raises(ConfigError, match="cannot use database") as info:  # nothing listens on port 1
        SQLAlchemyEventStore("postgresql+psycopg://user:s3cret-pw@127.0.0.1:1/db",
                             engine_options={"connect_args": {"connect_timeout": 2}})
    assert "s3cret-pw" not in str(info.value)
    assert "user:***@127.0.0.1:1/db" in str(info.value)
