"""The store's schema, declared once: tables, columns (type, length, nullability, key), unique
constraints, indexes and the schema version. The SQLite DDL is generated here, the SQLAlchemy
tables in :mod:`acumbamail_smtp.store.sqlalchemy`, and a test holds the Django models to it.

Column types: ``id`` (auto-increment integer key), ``int``, ``str`` (``VARCHAR(length)``),
``text``, ``json`` (JSON text; a ``JSONField`` in Django), ``bytes`` (a binary value; a
``BinaryField`` in Django) and ``time`` (an aware UTC datetime).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

#: Stored in ``schema_version``; a database of a newer version is refused.
SCHEMA_VERSION = 1


def needs_version(current: int | None) -> bool:
    """Whether a database whose ``schema_version`` holds ``current`` (None: no row yet) still
    needs :data:`SCHEMA_VERSION` written; ``ConfigError`` when it is newer than we support."""
    if current is not None and current > SCHEMA_VERSION:
        raise ConfigError("store", f"schema version {current} is newer than this library "
                                   f"supports ({SCHEMA_VERSION}); upgrade acumbamail-smtp")
    return current is None


@dataclass(frozen=True, slots=True)
class Column:
    """One column: its name, type (see the module docstring), length for ``str``, and keys."""

    name: str
    type: str
    length: int | None = None
    nullable: bool = True
    primary_key: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    """A named index (or, with ``unique``, a named unique constraint) over ``columns``."""

    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True, slots=True)
class Table:
    """A table: its columns in order and its indexes."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[Index, ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return next(c for c in self.columns if c.name == name)


#: The longest Message-ID the tables keep (a longer one is cut, the same way in every store): 998,
#: the longest header line, would put the events' (message_id, recipient, type) index at 5400 bytes
#: in MySQL's utf8mb4 (4 bytes a character), over InnoDB's 3072-byte key limit; 400 keeps it at 3008.
MESSAGE_ID_LENGTH = 400


def stored_message_id(message_id: str) -> str:
    """``message_id`` as the tables keep it (at most :data:`MESSAGE_ID_LENGTH` characters)."""
    return message_id[:MESSAGE_ID_LENGTH]


def _key() -> Column:
    return Column("id", "id", nullable=False, primary_key=True)


def _str(name: str, length: int, nullable: bool = True) -> Column:
    return Column(name, "str", length, nullable=nullable)


TABLES: tuple[Table, ...] = (
    Table("schema_version", (Column("version", "int", nullable=False),)),
    Table("sends", (
        _key(),
        _str("recipient", 320, nullable=False),
        _str("message_id", MESSAGE_ID_LENGTH, nullable=False),
        _str("queue_id", 255),
        _str("category", 255),
        Column("sent_at", "time", nullable=False),
        _str("status", 16, nullable=False),
        Column("reply_code", "int"),
        Column("reply_text", "text"),
    ), (
        Index("ix_sends_queue_id", ("queue_id",)),
        Index("ix_sends_recipient_sent_at", ("recipient", "sent_at")),
        Index("ix_sends_category_sent_at", ("category", "sent_at")),
        Index("ix_sends_sent_at", ("sent_at",)),
    )),
    Table("events", (
        _key(),
        _str("event_id", 64, nullable=False),
        _str("type", 32, nullable=False),
        _str("recipient", 320, nullable=False),
        Column("timestamp", "time", nullable=False),
        _str("message_key", 255),
        Column("url", "text"),
        _str("category", 255),
        _str("message_id", MESSAGE_ID_LENGTH),
        Column("raw", "json", nullable=False),
        Column("received_at", "time", nullable=False),
    ), (
        Index("uq_events_event_id", ("event_id",), unique=True),
        Index("ix_events_type_timestamp", ("type", "timestamp")),
        Index("ix_events_category_timestamp", ("category", "timestamp")),
        Index("ix_events_recipient_timestamp", ("recipient", "timestamp")),
        Index("ix_events_message_key", ("message_key",)),
        Index("ix_events_message_id_recipient", ("message_id", "recipient", "type")),
    )),
    Table("suppressions", (
        Column("address", "str", 320, nullable=False, primary_key=True),
        _str("reason", 32, nullable=False),
        Column("created_at", "time", nullable=False),
        _str("event_id", 64),
    )),
    # The durable outbox (acumbamail_smtp.outbox): prepared messages waiting for a worker.
    Table("outbox", (
        _key(),
        _str("message_id", MESSAGE_ID_LENGTH, nullable=False),
        _str("sender", 320, nullable=False),
        Column("recipients", "json", nullable=False),
        Column("data", "bytes", nullable=False),
        Column("smtputf8", "int", nullable=False),
        _str("category", 255),
        Column("metadata", "json"),
        Column("priority", "int", nullable=False),
        _str("status", 16, nullable=False),
        Column("attempts", "int", nullable=False),
        Column("send_after", "time", nullable=False),
        Column("created_at", "time", nullable=False),
        Column("lease_until", "time"),
        _str("worker", 255),
        Column("last_error", "text"),
        Column("reply_code", "int"),
        Column("reply_text", "text"),
        _str("queue_id", 255),
        Column("sent_at", "time"),
    ), (
        Index("ix_outbox_status_send_after", ("status", "send_after")),
        Index("ix_outbox_status_lease_until", ("status", "lease_until")),
        Index("ix_outbox_message_id", ("message_id",)),
    )),
)

#: The tables by name.
TABLE: dict[str, Table] = {t.name: t for t in TABLES}

#: SQLite's spelling of each type (``DATETIME`` holds the UTC text both Python stores write).
_SQLITE_TYPES = {"id": "INTEGER", "int": "INTEGER", "text": "TEXT", "json": "TEXT", "bytes": "BLOB",
                 "time": "DATETIME"}


def _sqlite_column(column: Column) -> str:
    kind = f"VARCHAR({column.length})" if column.type == "str" else _SQLITE_TYPES[column.type]
    words = [column.name, kind] + ([] if column.nullable else ["NOT NULL"])
    if column.primary_key:
        words += ["PRIMARY KEY"] + (["AUTOINCREMENT"] if column.type == "id" else [])
    return " ".join(words)


def sqlite_ddl() -> list[str]:
    """The statements that create the missing tables and indexes on SQLite (the same schema
    SQLAlchemy creates there, so both stores can open one file)."""
    out: list[str] = []
    for table in TABLES:
        parts = [_sqlite_column(c) for c in table.columns]
        parts += [f"CONSTRAINT {i.name} UNIQUE ({', '.join(i.columns)})" for i in table.indexes if i.unique]
        out.append(f"CREATE TABLE IF NOT EXISTS {table.name} (\n    " + ",\n    ".join(parts) + "\n)")
        out += [f"CREATE INDEX IF NOT EXISTS {i.name} ON {table.name} ({', '.join(i.columns)})"
                for i in table.indexes if not i.unique]
    return out
