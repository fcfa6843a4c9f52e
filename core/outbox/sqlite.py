""":class:`SQLiteOutboxBackend`: the outbox in the SQLite event store's file, standard library only.

Claims take ``BEGIN IMMEDIATE`` (one writer at a time across processes), so two workers never
claim the same row; an enqueue commits with ``synchronous=FULL`` so a queued message survives
even an OS crash once the request returned; a worker's marks commit with ``NORMAL`` (see
:meth:`SQLiteOutboxBackend._write`).
"""

from __future__ import annotations

import builtins
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from ..errors import ConfigError
from ..store.schema import TABLE
from ..store.sqlite import SQLiteEventStore, db_time, immediate, parse_db_time
from .model import OutboxStats, QueuedMessage

#: The columns :func:`_item` reads, in order.
_ITEM_COLUMNS = ("id, message_id, sender, recipients, category, priority, status, attempts, send_after,"
                 " created_at, last_error, queue_id, data, smtputf8, metadata")
_COLUMNS = [c.name for c in TABLE["outbox"].columns if c.name != "id"]
_TIME_COLUMNS = {c.name for c in TABLE["outbox"].columns if c.type == "time"}
_JSON_COLUMNS = {c.name for c in TABLE["outbox"].columns if c.type == "json"}


def _value(name: str, value: Any) -> Any:
    """``value`` as the ``outbox`` column ``name`` stores it."""
    if value is None:
        return None
    if name in _TIME_COLUMNS:
        return db_time(value)
    if name in _JSON_COLUMNS:
        return json.dumps(value)
    return value


def _item(row: Sequence[Any], reclaimed: bool = False) -> QueuedMessage:
    return QueuedMessage(
        id=row[0], message_id=row[1], sender=row[2], recipients=json.loads(row[3]), category=row[4],
        priority=row[5], status=row[6], attempts=row[7], send_after=parse_db_time(row[8]),
        created_at=parse_db_time(row[9]), last_error=row[10], queue_id=row[11], data=bytes(row[12]),
        smtputf8=bool(row[13]), metadata=json.loads(row[14]) if row[14] else None, reclaimed=reclaimed)


class SQLiteOutboxBackend:
    """The ``outbox`` table of a SQLite file (the event store's, created with the other tables
    when missing). Its own connection, so a worker thread never waits on the store's lock."""

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        if self.path == ":memory:":
            raise ConfigError("store", "the outbox needs a SQLite file that workers can open, not :memory:")
        SQLiteEventStore(self.path, timeout=timeout).close()  # the schema, the outbox table included
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None,
                                     check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")

    def __repr__(self) -> str:
        return f"SQLiteOutboxBackend({self.path!r})"

    @contextmanager
    def _write(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction. ``durable=False`` (a worker's marks) commits with
        ``synchronous=NORMAL``: in WAL mode that survives a crash of any process and costs no
        fsync; only an OS crash can lose the last marks, and a lost mark means the message is sent
        again after its lease, never that it is lost. Inserts stay ``FULL``."""
        with immediate(self._conn, self._lock, "FULL" if durable else "NORMAL") as conn:
            yield conn

    def insert(self, rows: Sequence[Mapping[str, Any]], connection: Any = None) -> None:
        """Store ``rows`` in one transaction (``connection`` is for SQL backends; refused here)."""
        if connection is not None:
            raise ConfigError("connection", "the SQLite outbox commits on its own connection")
        sql = (f"INSERT INTO outbox ({', '.join(_COLUMNS)})"  # noqa: S608 (constants)
               f" VALUES ({', '.join('?' * len(_COLUMNS))})")
        with self._write() as conn:
            conn.executemany(sql, [[_value(name, row.get(name)) for name in _COLUMNS] for row in rows])

    def claim(self, limit: int, worker: str, lease: float, now: datetime) -> builtins.list[QueuedMessage]:
        stamp = db_time(now)
        with self._write(durable=False) as conn:  # a lost claim is a lease nobody holds: sent again
            found = conn.execute(
                f"SELECT {_ITEM_COLUMNS} FROM outbox"  # noqa: S608 (constants)
                " WHERE (status = 'queued' AND send_after <= ?)"
                " OR (status = 'in_flight' AND lease_until <= ?)"
                " ORDER BY priority DESC, id LIMIT ?", (stamp, stamp, int(limit))).fetchall()
            if not found:
                return []
            ids = [row[0] for row in found]
            conn.execute(
                "UPDATE outbox SET status = 'in_flight', lease_until = ?, worker = ?,"  # noqa: S608
                f" attempts = attempts + 1 WHERE id IN ({', '.join('?' * len(ids))})",
                (db_time(now + timedelta(seconds=lease)), worker[:255], *ids))
        return [_item((*row[:6], "in_flight", row[7] + 1, *row[8:]), reclaimed=row[6] == "in_flight")
                for row in found]

    def update(self, id: int, **fields: Any) -> None:
        self.update_many([(id, fields)])

    def update_many(self, changes: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Several :meth:`update` calls in one transaction (a drain marks a batch at once)."""
        for _, fields in changes:
            unknown = set(fields) - set(_COLUMNS)
            if unknown:
                raise ConfigError("fields", f"not outbox columns: {', '.join(sorted(unknown))}")
        with self._write(durable=False) as conn:
            for id, fields in changes:
                if fields:
                    sets = ", ".join(f"{n} = ?" for n in fields)
                    conn.execute(f"UPDATE outbox SET {sets} WHERE id = ?",  # noqa: S608 (column names checked)
                                 (*[_value(n, v) for n, v in fields.items()], id))

    def stats(self, now: datetime) -> OutboxStats:
        with self._lock:
            conn = self._conn
            counts = dict(conn.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall())
            oldest = conn.execute("SELECT MIN(created_at) FROM outbox WHERE status = 'queued'").fetchone()[0]
        age = (now - parse_db_time(oldest)).total_seconds() if oldest else None
        return OutboxStats(counts.get("queued", 0), counts.get("in_flight", 0), counts.get("failed", 0),
                           counts.get("sent", 0), age)

    def list(self, status: str | None, limit: int) -> list[QueuedMessage]:
        where, params = ("WHERE status = ?", [status]) if status else ("", [])
        with self._lock:
            rows = self._conn.execute(f"SELECT {_ITEM_COLUMNS} FROM outbox {where}"  # noqa: S608
                                      " ORDER BY id LIMIT ?", (*params, int(limit))).fetchall()
        return [_item(row) for row in rows]

    def retry(self, ids: Sequence[str] | None) -> int:
        sql = ("UPDATE outbox SET status = 'queued', send_after = ?, lease_until = NULL"
               " WHERE status = 'failed'")
        params: list[Any] = [db_time(datetime.now().astimezone())]
        with self._write() as conn:
            if ids is None:
                return conn.execute(sql, params).rowcount
            return sum(conn.execute(sql + " AND message_id = ?", (*params, m)).rowcount for m in ids)

    def purge(self, status: str, older_than: datetime | None) -> int:
        sql, params = "DELETE FROM outbox WHERE status = ?", [status]
        if older_than is not None:
            sql, params = sql + " AND created_at < ?", [status, db_time(older_than)]
        with self._write() as conn:
            return conn.execute(sql, params).rowcount

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()


__all__ = ["SQLiteOutboxBackend"]
