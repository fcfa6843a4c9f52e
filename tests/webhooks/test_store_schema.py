"""The one schema spec (acumbamail_smtp.store.schema) is what both core stores create: the SQLite
DDL and the SQLAlchemy tables are generated from it, and the databases they make match it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from acumbamail_smtp.store import schema
from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore, build_tables
from acumbamail_smtp.store.sqlite import SQLiteEventStore
from sqlalchemy import Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.dialects import postgresql, sqlite

_SQLITE_TYPES = {"id": "INTEGER", "int": "INTEGER", "text": "TEXT", "json": "TEXT", "bytes": "BLOB",
                 "time": "DATETIME"}


def _spec_as_sqlite() -> dict[str, object]:
    """The spec in the terms SQLite's catalogue reports (columns, named indexes, unique keys)."""
    out: dict[str, object] = {}
    for table in schema.TABLES:
        columns = [(c.name, f"VARCHAR({c.length})" if c.type == "str" else _SQLITE_TYPES[c.type],
                    not c.nullable, c.primary_key) for c in table.columns]
        indexes = {i.name: i.columns for i in table.indexes if not i.unique}
        unique = sorted(i.columns for i in table.indexes if i.unique)
        out[table.name] = (columns, indexes, unique)
    return out


def _catalogue(path: Path) -> dict[str, object]:
    """What the SQLite file at ``path`` holds, in the terms of :func:`_spec_as_sqlite`."""
    out: dict[str, object] = {}
    with sqlite3.connect(path) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]
        for name in names:
            columns = [(row[1], row[2], bool(row[3]), bool(row[5]))
                       for row in conn.execute(f"PRAGMA table_info({name})")]
            indexes: dict[str, tuple[str, ...]] = {}
            unique: list[tuple[str, ...]] = []
            for _, index, _, origin, _ in conn.execute(f"PRAGMA index_list({name})"):
                cols = tuple(row[2] for row in conn.execute(f"PRAGMA index_info({index})"))
                if origin == "c":
                    indexes[index] = cols
                elif origin == "u":
                    unique.append(cols)
            out[name] = (columns, indexes, sorted(unique))
    return out


@pytest.mark.parametrize("make", [
    pytest.param(lambda path: SQLiteEventStore(path), id="sqlite3"),
    pytest.param(lambda path: SQLAlchemyEventStore(f"sqlite:///{path}"), id="sqlalchemy"),
])
def test_each_store_creates_exactly_the_spec_on_sqlite(tmp_path: Path, make) -> None:
    path = tmp_path / "events.sqlite3"
    make(path).close()
    assert _catalogue(path) == _spec_as_sqlite()
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(schema.SCHEMA_VERSION,)]


def test_the_generated_ddl_names_the_unique_constraints_and_autoincrement_keys() -> None:
    ddl = "\n".join(schema.sqlite_ddl())
    assert "CONSTRAINT uq_events_event_id UNIQUE (event_id)" in ddl
    assert ddl.count("id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT") == 3  # sends, events, outbox
    assert "address VARCHAR(320) NOT NULL PRIMARY KEY,\n" in ddl


def test_sqlalchemy_metadata_matches_the_spec() -> None:
    metadata, *returned = build_tables(schema="acumbamail")
    tables = list(metadata.tables.values())  # the returned four, and the outbox's table
    assert tables[:len(returned)] == returned
    assert [t.name for t in tables] == [t.name for t in schema.TABLES]
    assert all(t.schema == "acumbamail" for t in tables)
    for table, spec in zip(tables, schema.TABLES, strict=True):
        assert [c.name for c in table.columns] == [c.name for c in spec.columns]
        for column, wanted in zip(table.columns, spec.columns, strict=True):
            assert (column.nullable, column.primary_key) == (wanted.nullable, wanted.primary_key), column
            if wanted.type == "str":
                assert isinstance(column.type, String) and column.type.length == wanted.length, column
            elif wanted.type in ("text", "json"):
                assert isinstance(column.type, Text), column
            elif wanted.type == "id":  # 64 bits, but SQLite's INTEGER for its rowid alias
                assert column.type.compile(dialect=postgresql.dialect()) == "BIGINT", column
                assert column.type.compile(dialect=sqlite.dialect()) == "INTEGER", column
                assert column.autoincrement is True, column
            elif wanted.type == "int":
                assert type(column.type) is Integer, column
            elif wanted.type == "bytes":
                assert type(column.type) is LargeBinary, column
                assert column.type.compile(dialect=postgresql.dialect()) == "BYTEA", column
            else:
                assert wanted.type == "time" and column.type.__class__.__name__ == "UTCDateTime", column
        indexes = {i.name: tuple(c.name for c in i.columns) for i in table.indexes if isinstance(i, Index)}
        unique = {c.name: tuple(col.name for col in c.columns) for c in table.constraints
                  if isinstance(c, UniqueConstraint)}
        assert indexes == {i.name: i.columns for i in spec.indexes if not i.unique}
        assert unique == {i.name: i.columns for i in spec.indexes if i.unique}
    assert set(metadata.tables) == {f"acumbamail.{t.name}" for t in schema.TABLES}


def test_a_newer_schema_version_is_refused() -> None:
    assert schema.needs_version(None) is True
    assert schema.needs_version(schema.SCHEMA_VERSION) is False
    with pytest.raises(Exception, match="newer than this library supports"):
        schema.needs_version(schema.SCHEMA_VERSION + 1)
