"""Where sends, events and suppressions live: the :class:`EventStore` protocol and the embedded
SQLite implementation (:class:`SQLiteEventStore`, standard library only).

The join rule, shared by every store: an event is joined to the send it reports on

1. by queue id: the send whose ``queue_id`` (the relay's "queued as <id>") equals the event's
   ``message_key`` (Acumbamail's ``email_key``), preferring the row of the same recipient;
2. else by recipient: that recipient's latest accepted send at or before the event's timestamp;
   when there is none, the earliest one at most :data:`JOIN_SKEW` after it (the sender's clock
   may run a little behind ours, so a delivery can seem to precede its send).

The join fills the event's ``category`` and ``message_id``. When a send is recorded after its
events arrived (a fast webhook), the events carrying its queue id are joined then.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from ..errors import ConfigError
from ..events import EVENT_NAMES, Event, EventType, normalize_address
from ..result import SendResult
from .suppression import Suppression, validate_reason

SCHEMA_VERSION = 1
DEFAULT_STORE_PATH = "acumbamail-events.sqlite3"
#: Environment variable naming the store: a SQLite path or a SQLAlchemy URL.
STORE_ENV = "ACUMBAMAIL_STORE"
#: Per-recipient statuses of a send record.
SEND_STATUSES: tuple[str, ...] = ("sent", "refused", "suppressed")
#: Rows fetched per query by the iterators, so reports over millions of rows stay small in memory.
PAGE_SIZE = 1000
#: Addresses per ``IN (...)`` query (SQLite limits the number of parameters).
logger = logging.getLogger("acumbamail_smtp.store")
_CHUNK = 500
#: Events per recipient-join query (four parameters each, under SQLite's oldest limit of 999).
_JOIN_CHUNK = 240
#: How far after an event its send may have been recorded and still be joined by recipient
#: (step 2 of the join rule): the clock skew we tolerate between the sender and us.
JOIN_SKEW = timedelta(minutes=2)


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One recipient of one sent message, as recorded by ``record_sends``."""

    recipient: str
    message_id: str
    queue_id: str | None
    category: str | None
    sent_at: datetime
    status: str
    reply_code: int | None = None
    reply_text: str | None = None


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What ``store_events`` did: ``new`` events (joined to their send) and ``duplicates``
    (already stored under the same ``event_id``, left untouched)."""

    new: list[Event] = field(default_factory=list)
    duplicates: list[Event] = field(default_factory=list)


class SendStore(Protocol):
    """What a mailer needs of a store: the suppression check before sending, and the record
    after. Every :class:`EventStore` is one; so is :class:`BatchedSendStore`."""

    def suppressed(self, addresses: Iterable[str]) -> set[str]: ...

    def record_sends(self, results: Sequence[SendResult]) -> None: ...


@runtime_checkable
class EventStore(Protocol):
    """What the mailer, the webhook receiver, suppression and reports need from a store.

    Every write is one transaction; addresses are matched case-insensitively (normalized by
    :func:`~acumbamail_smtp.events.normalize_address`). Events are joined to sends by the rule in
    this module's docstring.
    """

    def record_sends(self, results: Sequence[SendResult]) -> None:
        """Record one row per accepted, refused and suppressed recipient of each result."""

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        """Store ``events`` in one transaction, once per ``event_id``, joined to their sends."""

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        """The given addresses (as given) that are on the suppression list."""

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        """Put ``address`` on the list; False if it was there already (its entry is kept)."""

    def unsuppress(self, address: str) -> bool:
        """Take ``address`` off the list; False if it was not on it."""

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression, ordered by address."""

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        """Stored events with ``since <= timestamp < until`` and the other filters, oldest first."""

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        """Recorded sends with ``since <= sent_at < until`` and the other filters, oldest first."""

    def close(self) -> None:
        """Release the store's connections."""


# -- helpers shared by the store implementations ----------------------------------------------


def send_rows(results: Sequence[SendResult]) -> list[dict[str, Any]]:
    """The ``sends`` rows for ``results``: one per accepted, refused and suppressed recipient."""
    rows: list[dict[str, Any]] = []
    for result in results:
        base = {"message_id": result.message_id, "queue_id": result.queue_id,
                "category": result.category, "sent_at": aware(result.sent_at, "sent_at")}
        for address in result.accepted:
            rows.append({**base, "recipient": normalize_address(address), "status": "sent",
                         "reply_code": None, "reply_text": None})
        for address, reply in result.refused.items():
            rows.append({**base, "recipient": normalize_address(address), "status": "refused",
                         "reply_code": reply.code, "reply_text": reply.text})
        for address in result.suppressed:
            rows.append({**base, "recipient": normalize_address(address), "status": "suppressed",
                         "reply_code": None, "reply_text": None})
    return rows


def aware(value: datetime, name: str) -> datetime:
    """``value`` in UTC; a naive datetime is refused (we cannot know its zone)."""
    if not isinstance(value, datetime):
        raise ConfigError(name, f"must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ConfigError(name, "must be timezone-aware (e.g. datetime.now(UTC))")
    return value.astimezone(UTC)


def event_types(value: EventType | str | Iterable[EventType | str] | None) -> list[str] | None:
    """The type filter as a list of stored values; names may use any accepted spelling."""
    if value is None:
        return None
    items = [value] if isinstance(value, str) else list(value)
    out: list[str] = []
    for item in items:
        key = str(item).strip().lower().replace("-", "_")
        if key in _TYPE_VALUES:
            out.append(key)
        elif key in EVENT_NAMES:
            out.append(EVENT_NAMES[key].value)
        else:
            names = ", ".join(t.value for t in EventType)
            raise ConfigError("type", f"unknown event type {item!r}; use one of {names}")
    return out


_TYPE_VALUES = frozenset(t.value for t in EventType)


def check_status(status: str | None) -> str | None:
    if status is not None and status not in SEND_STATUSES:
        raise ConfigError("status", f"must be one of {', '.join(SEND_STATUSES)}; got {status!r}")
    return status


def check_address(address: str) -> str:
    """The normalized form of ``address``, or ``ConfigError`` when it is not an address."""
    if not isinstance(address, str):
        raise ConfigError("address", f"must be a string, got {type(address).__name__}")
    value = normalize_address(address)
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain or any(c.isspace() for c in value) or len(value) > 320:
        raise ConfigError("address", f"{address!r} is not an e-mail address")
    return value


def split_duplicates(events: Sequence[Event], stored: set[str] | frozenset[str]) -> StoreOutcome:
    """``events`` split in order into new ones (the first of each ``event_id`` not in ``stored``)
    and duplicates (already stored, or repeated within ``events``); nothing is joined yet."""
    outcome = StoreOutcome()
    seen = set(stored)
    for event in events:
        if event.event_id in seen:
            outcome.duplicates.append(event)
        else:
            seen.add(event.event_id)
            outcome.new.append(event)
    return outcome


def join_by_queue_id(events: Sequence[Event],
                     rows: Iterable[Sequence[Any]]) -> list[tuple[str, str | None] | None]:
    """Step 1 of the join rule for each event, from the ``(queue_id, recipient, message_id,
    category)`` rows of the sends carrying the events' queue ids, oldest row first: the latest
    send of that queue id to the same recipient, else its latest send to anyone; None when the
    queue id is unknown (or missing)."""
    latest: dict[str, tuple[str, str | None]] = {}
    latest_to: dict[tuple[str, str], tuple[str, str | None]] = {}
    for queue_id, recipient, message_id, category in rows:
        latest[queue_id] = latest_to[queue_id, recipient] = (message_id, category)
    return [None if not e.message_key or e.message_key not in latest
            else latest_to.get((e.message_key, e.recipient), latest[e.message_key]) for e in events]


def joined_events(events: Sequence[Event],
                  joins: Sequence[tuple[str, str | None] | None]) -> list[Event]:
    """``events`` with ``message_id`` and ``category`` filled in from their joined send, if any."""
    return [event if joined is None  # the constructor, not dataclasses.replace: half the time
            else Event(event.type, event.recipient, event.timestamp, event.message_key, event.url,
                       category=joined[1], message_id=joined[0], event_id=event.event_id, raw=event.raw)
            for event, joined in zip(events, joins, strict=True)]


#: One encoder for every ``raw`` column (``json.dumps`` with options builds one per call).
_RAW_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=str)


def raw_json(raw: Any) -> str:
    """The ``raw`` column: the event as received, as JSON."""
    return _RAW_ENCODER.encode(raw)


def event_from_row(row: Sequence[Any]) -> Event:
    """An :class:`Event` from ``(event_id, type, recipient, timestamp, message_key, url,
    category, message_id, raw)`` with ``timestamp`` an aware datetime."""
    event_id, type_, recipient, timestamp, message_key, url, category, message_id, raw = row
    try:
        raw_value = json.loads(raw) if raw else {}
    except ValueError:
        raw_value = {"raw": raw}
    return Event(type=EventType(type_), recipient=recipient, timestamp=timestamp,
                 message_key=message_key, url=url, category=category, message_id=message_id,
                 event_id=event_id, raw=raw_value if isinstance(raw_value, dict) else {"raw": raw_value})


def open_store(location: str | os.PathLike[str] | None = None) -> EventStore:
    """Open the store at ``location``: a SQLAlchemy URL (``postgresql+psycopg://...``) or a SQLite
    path. Without one, ``$ACUMBAMAIL_STORE``, else ``acumbamail-events.sqlite3``."""
    if location is None:
        location = os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH
    text = os.fspath(location)
    if "://" in text:
        from .sqlalchemy import SQLAlchemyEventStore

        return SQLAlchemyEventStore(text)
    return SQLiteEventStore(text)


# -- SQLite ---------------------------------------------------------------------------------------

#: Timestamps are stored as UTC text in this fixed-width format (the one SQLAlchemy uses for
#: SQLite), so text order is time order and both stores can open the same file.
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS sends (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    recipient VARCHAR(320) NOT NULL,
    message_id VARCHAR(998) NOT NULL,
    queue_id VARCHAR(255),
    category VARCHAR(255),
    sent_at DATETIME NOT NULL,
    status VARCHAR(16) NOT NULL,
    reply_code INTEGER,
    reply_text TEXT
);
CREATE INDEX IF NOT EXISTS ix_sends_queue_id ON sends (queue_id);
CREATE INDEX IF NOT EXISTS ix_sends_recipient_sent_at ON sends (recipient, sent_at);
CREATE INDEX IF NOT EXISTS ix_sends_category_sent_at ON sends (category, sent_at);
CREATE INDEX IF NOT EXISTS ix_sends_sent_at ON sends (sent_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    event_id VARCHAR(64) NOT NULL,
    type VARCHAR(32) NOT NULL,
    recipient VARCHAR(320) NOT NULL,
    timestamp DATETIME NOT NULL,
    message_key VARCHAR(255),
    url TEXT,
    category VARCHAR(255),
    message_id VARCHAR(998),
    raw TEXT NOT NULL,
    received_at DATETIME NOT NULL,
    CONSTRAINT uq_events_event_id UNIQUE (event_id)
);
CREATE INDEX IF NOT EXISTS ix_events_type_timestamp ON events (type, timestamp);
CREATE INDEX IF NOT EXISTS ix_events_category_timestamp ON events (category, timestamp);
CREATE INDEX IF NOT EXISTS ix_events_recipient_timestamp ON events (recipient, timestamp);
CREATE INDEX IF NOT EXISTS ix_events_message_key ON events (message_key);
CREATE INDEX IF NOT EXISTS ix_events_message_id_recipient ON events (message_id, recipient, type);
CREATE TABLE IF NOT EXISTS suppressions (
    address VARCHAR(320) NOT NULL PRIMARY KEY,
    reason VARCHAR(32) NOT NULL,
    created_at DATETIME NOT NULL,
    event_id VARCHAR(64)
);
"""

_EVENT_COLUMNS = "event_id, type, recipient, timestamp, message_key, url, category, message_id, raw"


def _ts(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.year < 1000:  # strftime does not pad the year; isoformat (the fast path) does
        return value.strftime(_TS_FORMAT)
    return value.isoformat(" ", "microseconds")[:26]


def _parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


class SQLiteEventStore:
    """The embedded store: one SQLite file (WAL mode), standard library ``sqlite3``.

    Thread-safe (one connection behind a lock; iterators fetch page by page and do not hold it
    between pages) and safe across processes (``BEGIN IMMEDIATE`` writes, ``timeout`` seconds of
    waiting for a locked database). Every call is one transaction, committed with
    ``synchronous=FULL`` so a stored event survives a power cut. ``":memory:"`` works for tests.
    """

    def __init__(self, path: str | os.PathLike[str] = DEFAULT_STORE_PATH, *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        #: Rows per query of the iterators.
        self.page_size = PAGE_SIZE
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                         check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError("store", f"cannot open SQLite database {self.path!r}: {exc}") from exc
        try:
            if self.path != ":memory:":
                self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._create_schema()
        except sqlite3.Error as exc:
            self._conn.close()
            raise ConfigError("store", f"cannot use SQLite database {self.path!r}: {exc}") from exc
        except BaseException:
            self._conn.close()
            raise

    def __repr__(self) -> str:
        return f"SQLiteEventStore({self.path!r})"

    def __enter__(self) -> SQLiteEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create_schema(self) -> None:
        with self._write() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            if row[0] is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise ConfigError("store", f"schema version {row[0]} is newer than this library "
                                           f"supports ({SCHEMA_VERSION}); upgrade acumbamail-smtp")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with ``BEGIN IMMEDIATE`` so it never has to upgrade a
        read lock (which SQLite cannot wait for)."""
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- sends -----------------------------------------------------------------------------------

    def record_sends(self, results: Sequence[SendResult]) -> None:
        rows = send_rows(results)
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                "INSERT INTO sends (recipient, message_id, queue_id, category, sent_at, status,"
                " reply_code, reply_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["recipient"], r["message_id"], r["queue_id"], r["category"], _ts(r["sent_at"]),
                  r["status"], r["reply_code"], r["reply_text"]) for r in rows])
            for result in results:
                if result.queue_id:  # events that arrived before their send was recorded
                    conn.execute(
                        "UPDATE events SET message_id = ?, category = ?"
                        " WHERE message_key = ? AND message_id IS NULL",
                        (result.message_id, result.category, result.queue_id))

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        where, params = _range("sent_at", since, until, category, recipient)
        if check_status(status) is not None:
            where.append("status = ?")
            params.append(status)
        sql = ("SELECT id, sent_at, recipient, message_id, queue_id, category, status, reply_code,"
               " reply_text FROM sends")
        for row in self._pages(sql, "sent_at", where, params):
            yield SendRecord(recipient=row[2], message_id=row[3], queue_id=row[4], category=row[5],
                             sent_at=_parse_ts(row[1]), status=row[6], reply_code=row[7],
                             reply_text=row[8])

    # -- events ----------------------------------------------------------------------------------

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        if not events:
            return StoreOutcome()
        received_at = _ts(datetime.now(UTC))
        with self._write() as conn:  # BEGIN IMMEDIATE: nobody else can insert until we commit
            ids = [event.event_id for event in events]
            stored: set[str] = set()
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start:start + _CHUNK]
                stored.update(row[0] for row in conn.execute(
                    "SELECT event_id FROM events"  # noqa: S608 (placeholders only)
                    f" WHERE event_id IN ({', '.join('?' * len(chunk))})", chunk))
            outcome = split_duplicates(events, stored)
            if not outcome.new:
                return outcome
            stamps = [_ts(e.timestamp) for e in outcome.new]
            new = joined_events(outcome.new, self._joins(conn, outcome.new, stamps))
            conn.executemany(
                "INSERT INTO events (event_id, type, recipient, timestamp, message_key, url,"
                " category, message_id, raw, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.event_id, e.type.value, e.recipient, stamp, e.message_key, e.url, e.category,
                  e.message_id, raw_json(e.raw), received_at) for e, stamp in zip(new, stamps, strict=True)])
        return StoreOutcome(new=new, duplicates=outcome.duplicates)

    @staticmethod
    def _joins(conn: sqlite3.Connection, events: Sequence[Event],
               stamps: Sequence[str]) -> list[tuple[str, str | None] | None]:
        """``(message_id, category)`` of the send each event reports on (module docstring), with
        one query for the queue ids and one per few hundred events for the recipients;
        ``stamps`` are the events' timestamps in the stored format."""
        keys = sorted({e.message_key for e in events if e.message_key})
        rows: list[Any] = []
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start:start + _CHUNK]
            rows += conn.execute(
                "SELECT queue_id, recipient, message_id, category FROM sends"  # noqa: S608
                f" WHERE queue_id IN ({', '.join('?' * len(chunk))}) ORDER BY id", chunk).fetchall()
        joins = join_by_queue_id(events, rows)
        rest = [n for n, joined in enumerate(joins) if joined is None]
        for start in range(0, len(rest), _JOIN_CHUNK):
            numbers = rest[start:start + _JOIN_CHUNK]
            params: list[Any] = []
            for n in numbers:
                params += (n, events[n].recipient, stamps[n], _ts(events[n].timestamp + JOIN_SKEW))
            found = conn.execute(
                "WITH wanted (n, recipient, ts, late) AS (VALUES "  # noqa: S608 (placeholders only)
                + ", ".join(["(?, ?, ?, ?)"] * len(numbers)) + ")"
                " SELECT wanted.n, sends.message_id, sends.category FROM wanted"
                " JOIN sends ON sends.id = COALESCE("
                "(SELECT id FROM sends WHERE recipient = wanted.recipient AND status = 'sent'"
                " AND sent_at <= wanted.ts ORDER BY sent_at DESC, id DESC LIMIT 1),"
                " (SELECT id FROM sends WHERE recipient = wanted.recipient AND status = 'sent'"
                " AND sent_at > wanted.ts AND sent_at <= wanted.late ORDER BY sent_at, id LIMIT 1))",
                params)
            for n, message_id, category in found:
                joins[n] = (message_id, category)
        return joins

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        where, params = _range("timestamp", since, until, category, recipient)
        types = event_types(type)
        if types is not None:
            where.append(f"type IN ({', '.join('?' * len(types))})")
            params.extend(types)
        sql = f"SELECT id, timestamp, {_EVENT_COLUMNS} FROM events"  # noqa: S608 (constants)
        for row in self._pages(sql, "timestamp", where, params):
            yield event_from_row((*row[2:5], _parse_ts(row[5]), *row[6:]))

    def _pages(self, sql: str, time_column: str, where: list[str], params: list[Any]) -> Iterator[Any]:
        """Rows ordered by ``(time_column, id)``, fetched ``page_size`` at a time."""
        last: tuple[str, int] | None = None
        while True:
            clauses, values = list(where), list(params)
            if last is not None:
                clauses.append(f"({time_column} > ? OR ({time_column} = ? AND id > ?))")
                values.extend((last[0], last[0], last[1]))
            query = sql + (" WHERE " + " AND ".join(clauses) if clauses else "")
            query += f" ORDER BY {time_column}, id LIMIT {int(self.page_size)}"
            rows = self._read(query, values)
            yield from rows
            if len(rows) < self.page_size:
                return
            last = (rows[-1][1], rows[-1][0])

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        given = list(addresses)
        wanted = sorted({normalize_address(a) for a in given})
        found: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start:start + _CHUNK]
            rows = self._read(
                "SELECT address FROM suppressions"  # noqa: S608 (placeholders only)
                f" WHERE address IN ({', '.join('?' * len(chunk))})",
                chunk)
            found.update(row[0] for row in rows)
        return {a for a in given if normalize_address(a) in found}

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        value = check_address(address)
        validate_reason(reason)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO suppressions (address, reason, created_at, event_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                (value, reason, _ts(datetime.now(UTC)), event_id))
            return cursor.rowcount == 1

    def unsuppress(self, address: str) -> bool:
        value = check_address(address)
        with self._write() as conn:
            return conn.execute("DELETE FROM suppressions WHERE address = ?", (value,)).rowcount > 0

    def suppressions(self) -> Iterator[Suppression]:
        last = ""
        while True:
            rows = self._read(
                "SELECT address, reason, created_at, event_id FROM suppressions"  # noqa: S608
                f" WHERE address > ? ORDER BY address LIMIT {int(self.page_size)}", (last,))
            for row in rows:
                yield Suppression(row[0], row[1], _parse_ts(row[2]), row[3])
            if len(rows) < self.page_size:
                return
            last = rows[-1][0]

    # -- SQL for reports -------------------------------------------------------------------------

    #: The SQL dialect :meth:`read_sql` speaks.
    dialect = "sqlite"

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of one read-only query (used by :mod:`acumbamail_smtp.reports.queries`): ``{sends}``,
        ``{events}`` and ``{suppressions}`` name the tables, ``:name`` marks a parameter; datetime
        parameters are bound in the stored format, stored timestamps come back as UTC text."""
        values = {key: _ts(aware(value, key)) if isinstance(value, datetime) else value
                  for key, value in (params or {}).items()}
        query = sql.format(sends="sends", events="events", suppressions="suppressions")
        return [tuple(row) for row in self._read(query, values)]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _range(column: str, since: datetime | None, until: datetime | None,
           category: str | None = None, recipient: str | None = None) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for the filters ``sends()`` and ``events()`` share."""
    where: list[str] = []
    params: list[Any] = []
    if category is not None:
        where.append("category = ?")
        params.append(category)
    if recipient is not None:
        where.append("recipient = ?")
        params.append(normalize_address(recipient))
    if since is not None:
        where.append(f"{column} >= ?")
        params.append(_ts(aware(since, "since")))
    if until is not None:
        where.append(f"{column} < ?")
        params.append(_ts(aware(until, "until")))
    return where, params


__all__ = [
    "DEFAULT_STORE_PATH",
    "JOIN_SKEW",
    "SCHEMA_VERSION",
    "EventStore",
    "SQLiteEventStore",
    "SendRecord",
    "StoreOutcome",
    "open_store",
]


class BatchedSendStore:
    """A store as a mailer sees it during one batch: :meth:`prefetch` reads the suppression list once
    for every recipient of the batch, and sends are recorded in one transaction at :meth:`flush`,
    instead of one query and one commit per message. ``suppression=False`` skips the list."""

    def __init__(self, store: EventStore, suppression: bool = True) -> None:
        self.store = store
        self.suppression = suppression
        self.pending: list[SendResult] = []
        self._checked: set[str] = set()
        self._blocked: set[str] = set()

    def prefetch(self, addresses: Iterable[str]) -> None:
        """Read the suppression list once for ``addresses`` (the batch's recipients)."""
        if not self.suppression:
            return
        wanted = set(addresses)
        self._blocked = {normalize_address(a) for a in self.store.suppressed(wanted)}
        self._checked = {normalize_address(a) for a in wanted}

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        if not self.suppression:
            return set()
        given = list(addresses)
        keys = {a: normalize_address(a) for a in given}
        if all(key in self._checked for key in keys.values()):
            return {a for a, key in keys.items() if key in self._blocked}
        return self.store.suppressed(given)

    def record_sends(self, results: Sequence[SendResult]) -> None:
        self.pending.extend(results)

    def flush(self) -> None:
        """Record the sends buffered since the last flush; a failure is logged, never raised."""
        results, self.pending = self.pending, []
        self._checked, self._blocked = set(), set()
        if not results:
            return
        try:
            self.store.record_sends(results)
        except Exception:  # the mail is gone already: failing here would invite a resend
            logger.exception("could not record %d sent message(s) in the event store", len(results))
