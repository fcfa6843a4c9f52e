"""The embedded store: :class:`SQLiteEventStore` on one SQLite file, standard library only.

The schema is generated from :mod:`acumbamail_smtp.store.schema`; the join rule and the shared
rules come from :mod:`acumbamail_smtp.store.join` and :mod:`acumbamail_smtp.store.common`. The
names imported ``as`` themselves stay importable from here for the modules that still do so;
:mod:`acumbamail_smtp.store` exports each from its home.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from ..errors import ConfigError
from ..events import Event, EventType
from ..result import SendResult
from . import common
from .batched import BatchedSendStore as BatchedSendStore
from .common import DEFAULT_STORE_PATH as DEFAULT_STORE_PATH
from .common import PAGE_SIZE as PAGE_SIZE
from .common import SEND_STATUSES as SEND_STATUSES
from .common import STORE_ENV as STORE_ENV
from .common import aware as aware
from .common import check_address as check_address
from .join import JOIN_SKEW as JOIN_SKEW
from .join import Wanted, join_sends, joined_events, late_join_rows, late_join_sql, recipient_join_sql
from .protocols import EventStore as EventStore
from .protocols import SendRecord as SendRecord
from .protocols import SendStore as SendStore
from .protocols import StoreOutcome as StoreOutcome
from .protocols import Suppression
from .schema import SCHEMA_VERSION as SCHEMA_VERSION
from .schema import needs_version, sqlite_ddl
from .suppression import validate_reason

#: Timestamps are stored as UTC text in this fixed-width format (the one SQLAlchemy uses for
#: SQLite), so text order is time order and both stores can open the same file.
_TS_FORMAT = "%Y-%m-%d %H:%M:%S.%f"

_EVENT_COLUMNS = "event_id, type, recipient, timestamp, message_key, url, category, message_id, raw"
_SEND_COLUMNS = "recipient, message_id, queue_id, category, sent_at, status, reply_code, reply_text"


def db_time(value: datetime) -> str:
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    if value.year < 1000:  # strftime does not pad the year; isoformat (the fast path) does
        return value.strftime(_TS_FORMAT)
    return value.isoformat(" ", "microseconds")[:26]


def parse_db_time(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def _marks(count: int) -> str:
    return ", ".join("?" * count)


@contextmanager
def immediate(conn: sqlite3.Connection, lock: threading.RLock,
              synchronous: str | None = None) -> Iterator[sqlite3.Connection]:
    """One write transaction on ``conn`` (opened with ``isolation_level=None``), taken with
    ``BEGIN IMMEDIATE`` so it never has to upgrade a read lock (which SQLite cannot wait for);
    ``synchronous`` sets that pragma for it (``FULL``, ``NORMAL``). Rolled back on any error."""
    with lock:
        if synchronous is not None:
            conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


class SQLiteEventStore(common.Closing):
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

    def _create_schema(self) -> None:
        with self._write() as conn:
            for statement in sqlite_ddl():
                conn.execute(statement)
            if needs_version(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]):
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with immediate(self._conn, self._lock) as conn:
            yield conn

    def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- sends -----------------------------------------------------------------------------------

    def record_sends(self, results: Sequence[SendResult]) -> None:
        rows = common.send_rows(results)
        if not rows:
            return
        with self._write() as conn:
            conn.executemany(
                f"INSERT INTO sends ({_SEND_COLUMNS}) VALUES ({_marks(8)})",  # noqa: S608 (constants)
                [(r["recipient"], r["message_id"], r["queue_id"], r["category"], db_time(r["sent_at"]),
                  r["status"], r["reply_code"], r["reply_text"]) for r in rows])
            conn.executemany(late_join_sql("events"), late_join_rows(results))

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        found = common.criteria("sent_at", since, until, category, recipient, status=status)
        sql = f"SELECT id, sent_at, {_SEND_COLUMNS} FROM sends"  # noqa: S608 (constants)
        for row in self._pages(sql, "sent_at", found):
            yield SendRecord(recipient=row[2], message_id=row[3], queue_id=row[4], category=row[5],
                             sent_at=parse_db_time(row[1]), status=row[7], reply_code=row[8],
                             reply_text=row[9])

    # -- events ----------------------------------------------------------------------------------

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        if not events:
            return StoreOutcome()
        received_at = db_time(datetime.now(UTC))
        with self._write() as conn:  # BEGIN IMMEDIATE: nobody else can insert until we commit
            stored = {row[0] for ids in common.chunks([event.event_id for event in events])
                      for row in conn.execute(
                          f"SELECT event_id FROM events WHERE event_id IN ({_marks(len(ids))})",  # noqa: S608
                          ids)}
            outcome = common.split_duplicates(events, stored)
            if not outcome.new:
                return outcome
            stamps = [db_time(e.timestamp) for e in outcome.new]
            new = joined_events(outcome.new, join_sends(
                outcome.new, lambda keys: self._by_queue_id(conn, keys),
                lambda wanted: self._by_recipient(conn, wanted)))
            conn.executemany(
                "INSERT INTO events (event_id, type, recipient, timestamp, message_key, url,"
                " category, message_id, raw, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.event_id, e.type.value, e.recipient, stamp, e.message_key, e.url, e.category,
                  e.message_id, common.raw_json(e.raw), received_at)
                 for e, stamp in zip(new, stamps, strict=True)])
        return StoreOutcome(new=new, duplicates=outcome.duplicates)

    @staticmethod
    def _by_queue_id(conn: sqlite3.Connection, keys: Sequence[str]) -> list[Any]:
        """The sends of these queue ids, oldest first (step 1 of the join rule)."""
        return conn.execute(
            "SELECT queue_id, recipient, message_id, category FROM sends"  # noqa: S608
            f" WHERE queue_id IN ({_marks(len(keys))}) ORDER BY id", keys).fetchall()

    @staticmethod
    def _by_recipient(conn: sqlite3.Connection, wanted: Sequence[Wanted]) -> list[Any]:
        """Step 2 of the join rule for ``wanted``, in one query."""
        params = [v for n, recipient, ts, late in wanted for v in (n, recipient, db_time(ts), db_time(late))]
        sql = recipient_join_sql("sends", [f"({_marks(4)})"] * len(wanted))
        return conn.execute(sql, params).fetchall()

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        found = common.criteria("timestamp", since, until, category, recipient, types=type)
        sql = f"SELECT id, timestamp, {_EVENT_COLUMNS} FROM events"  # noqa: S608 (constants)
        for row in self._pages(sql, "timestamp", found):
            yield common.event_from_row((*row[2:5], parse_db_time(row[5]), *row[6:]))

    def _pages(self, sql: str, time_column: str, found: list[common.Criterion]) -> Iterator[Any]:
        """Rows (``id`` and ``time_column`` first) matching ``found``, ordered by
        ``(time_column, id)``, fetched ``page_size`` at a time."""
        where, params = _where(found)

        def fetch(last: tuple[str, int] | None) -> list[Any]:
            clauses, values = list(where), list(params)
            if last is not None:
                clauses.append(f"({time_column} > ? OR ({time_column} = ? AND id > ?))")
                values.extend((last[0], last[0], last[1]))
            query = sql + (" WHERE " + " AND ".join(clauses) if clauses else "")
            return self._read(query + f" ORDER BY {time_column}, id LIMIT {int(self.page_size)}", values)

        return common.pages(fetch, lambda row: (row[1], row[0]), self.page_size)

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        return common.suppressed_among(addresses, lambda chunk: [row[0] for row in self._read(
            f"SELECT address FROM suppressions WHERE address IN ({_marks(len(chunk))})",  # noqa: S608
            chunk)])

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        value = check_address(address)
        validate_reason(reason)
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO suppressions (address, reason, created_at, event_id) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (address) DO NOTHING",
                (value, reason, db_time(datetime.now(UTC)), event_id))
            return cursor.rowcount == 1

    def unsuppress(self, address: str) -> bool:
        value = check_address(address)
        with self._write() as conn:
            return conn.execute("DELETE FROM suppressions WHERE address = ?", (value,)).rowcount > 0

    def suppressions(self) -> Iterator[Suppression]:
        rows = common.pages(lambda last: self._read(
            "SELECT address, reason, created_at, event_id FROM suppressions"  # noqa: S608
            f" WHERE address > ? ORDER BY address LIMIT {int(self.page_size)}", (last or "",)),
            lambda row: row[0], self.page_size)
        for row in rows:
            yield Suppression(row[0], row[1], parse_db_time(row[2]), row[3])

    # -- SQL for reports -------------------------------------------------------------------------

    #: The SQL dialect :meth:`read_sql` speaks.
    dialect = "sqlite"

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of one read-only query (used by :mod:`acumbamail_smtp.reports.queries`): ``{sends}``,
        ``{events}``, ``{suppressions}`` and ``{outbox}`` name the tables, ``:name`` marks a
        parameter; datetime parameters are bound in the stored format, stored timestamps come back
        as UTC text."""
        values = {key: db_time(aware(value, key)) if isinstance(value, datetime) else value
                  for key, value in (params or {}).items()}
        query = sql.format(sends="sends", events="events", suppressions="suppressions", outbox="outbox")
        return [tuple(row) for row in self._read(query, values)]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _where(found: list[common.Criterion]) -> tuple[list[str], list[Any]]:
    """WHERE clauses and ``?`` parameters for :func:`~acumbamail_smtp.store.common.criteria`."""
    where: list[str] = []
    params: list[Any] = []
    for column, op, value in found:
        if op == "in":
            where.append(f"{column} IN ({_marks(len(value))})")
            params.extend(value)
        else:
            where.append(f"{column} {op} ?")
            params.append(db_time(value) if isinstance(value, datetime) else value)
    return where, params


__all__ = ["SQLiteEventStore"]
