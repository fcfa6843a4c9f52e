""":class:`SQLAlchemyOutboxBackend`: the outbox in the SQLAlchemy store's database (PostgreSQL for
many app servers). Claims lock the candidate rows with ``FOR UPDATE SKIP LOCKED`` where the
database has it, and the claiming UPDATE checks again that each row is due, so two workers never
take the same row (on SQLite the UPDATE's write lock serializes them)."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.engine import URL

from ..errors import ConfigError
from ..store.sqlalchemy import SQLAlchemyEventStore
from .model import OutboxStats, QueuedMessage

_ITEM = ("id", "message_id", "sender", "recipients", "category", "priority", "status", "attempts",
         "send_after", "created_at", "last_error", "queue_id", "data", "smtputf8", "metadata")


def _item(row: Any, reclaimed: bool = False) -> QueuedMessage:
    m = row._mapping
    return QueuedMessage(
        id=m["id"], message_id=m["message_id"], sender=m["sender"], recipients=json.loads(m["recipients"]),
        category=m["category"], priority=m["priority"], status=m["status"], attempts=m["attempts"],
        send_after=m["send_after"], created_at=m["created_at"], last_error=m["last_error"],
        queue_id=m["queue_id"], data=bytes(m["data"]), smtputf8=bool(m["smtputf8"]),
        metadata=json.loads(m["metadata"]) if m["metadata"] else None, reclaimed=reclaimed)


def _stored(name: str, value: Any) -> Any:
    """``value`` as the column ``name`` keeps it (the spec's ``json`` columns are JSON text)."""
    return json.dumps(value) if name in ("recipients", "metadata") and value is not None else value


class SQLAlchemyOutboxBackend:
    """The ``outbox`` table on a SQLAlchemy engine (or URL), created with the store's tables.

    ``insert(rows, connection=...)`` joins the caller's transaction: a ``Connection`` or an ORM
    ``Session`` (the rows are then written, and kept or rolled back, with the caller's work).
    """

    def __init__(self, url_or_engine: str | URL | Engine, *, schema: str | None = None) -> None:
        self._store = SQLAlchemyEventStore(url_or_engine, schema=schema)
        self.engine = self._store.engine
        self.table: Table = self._store.metadata.tables[f"{schema}.outbox" if schema else "outbox"]
        self._columns = [c.name for c in self.table.columns if c.name != "id"]
        self._skip_locked = self.engine.dialect.name in ("postgresql", "mysql", "mariadb", "oracle")

    def __repr__(self) -> str:
        return f"SQLAlchemyOutboxBackend({self.engine.url.render_as_string(hide_password=True)!r})"

    def insert(self, rows: Sequence[Mapping[str, Any]], connection: Any = None) -> None:
        values = [{name: _stored(name, row.get(name)) for name in self._columns} for row in rows]
        if connection is not None:
            if not hasattr(connection, "execute"):
                raise ConfigError("connection", "give a SQLAlchemy Connection or Session")
            connection.execute(insert(self.table), values)
            return
        with self.engine.begin() as conn:
            conn.execute(insert(self.table), values)

    def _due(self, now: datetime) -> Any:
        t = self.table.c
        return or_(and_(t.status == "queued", t.send_after <= now),
                   and_(t.status == "in_flight", t.lease_until <= now))

    def claim(self, limit: int, worker: str, lease: float, now: datetime) -> builtins.list[QueuedMessage]:
        t = self.table.c
        wanted = (select(t.id, t.status).where(self._due(now))
                  .order_by(t.priority.desc(), t.id).limit(int(limit)))
        if self._skip_locked:
            wanted = wanted.with_for_update(skip_locked=True)
        with self.engine.begin() as conn:
            self._relaxed(conn)
            found = {row.id: row.status for row in conn.execute(wanted)}
            if not found:
                return []
            claimed = conn.execute(
                update(self.table).where(t.id.in_(list(found)), self._due(now))
                .values(status="in_flight", lease_until=now + timedelta(seconds=lease), worker=worker[:255],
                        attempts=t.attempts + 1)
                .returning(*[self.table.c[name] for name in _ITEM])).fetchall()
        items = [_item(row, reclaimed=found[row.id] == "in_flight") for row in claimed]
        return sorted(items, key=lambda item: (-item.priority, item.id))

    def update(self, id: int, **fields: Any) -> None:
        self.update_many([(id, fields)])

    def _relaxed(self, conn: Connection) -> None:
        """A worker's claims and marks on PostgreSQL commit without waiting for the WAL flush
        (``synchronous_commit = off``): a server crash may forget the last of them, which means a
        message is sent again after its lease, never lost. Enqueues keep the server's setting."""
        if conn.dialect.name == "postgresql":
            conn.execute(text("SET LOCAL synchronous_commit TO OFF"))

    def update_many(self, changes: Sequence[tuple[int, Mapping[str, Any]]]) -> None:
        """Several :meth:`update` calls in one transaction (a drain marks a batch at once)."""
        for _, fields in changes:
            unknown = set(fields) - set(self._columns)
            if unknown:
                raise ConfigError("fields", f"not outbox columns: {', '.join(sorted(unknown))}")
        with self.engine.begin() as conn:
            self._relaxed(conn)
            for id, fields in changes:
                if fields:
                    conn.execute(update(self.table).where(self.table.c.id == id)
                                 .values({n: _stored(n, v) for n, v in fields.items()}))

    def stats(self, now: datetime) -> OutboxStats:
        t = self.table.c
        with self.engine.connect() as conn:
            counts: dict[str, int] = {row[0]: row[1] for row in conn.execute(
                select(t.status, func.count()).group_by(t.status))}
            oldest = conn.execute(select(func.min(t.created_at)).where(t.status == "queued")).scalar()
        if isinstance(oldest, str):  # SQLite hands MIN() back as the stored text
            oldest = datetime.fromisoformat(oldest).replace(tzinfo=now.tzinfo)
        age = (now - oldest).total_seconds() if oldest is not None else None
        return OutboxStats(counts.get("queued", 0), counts.get("in_flight", 0), counts.get("failed", 0),
                           counts.get("sent", 0), age)

    def list(self, status: str | None, limit: int) -> builtins.list[QueuedMessage]:
        t = self.table.c
        query = select(*[self.table.c[name] for name in _ITEM]).order_by(t.id).limit(int(limit))
        if status is not None:
            query = query.where(t.status == status)
        with self.engine.connect() as conn:
            return [_item(row) for row in conn.execute(query)]

    def retry(self, ids: Sequence[str] | None) -> int:
        t = self.table.c
        query = (update(self.table).where(t.status == "failed")
                 .values(status="queued", send_after=datetime.now(UTC), lease_until=None))
        if ids is not None:
            query = query.where(t.message_id.in_(list(ids)))
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def purge(self, status: str, older_than: datetime | None) -> int:
        t = self.table.c
        query = delete(self.table).where(t.status == status)
        if older_than is not None:
            query = query.where(t.created_at < older_than)
        with self.engine.begin() as conn:
            return int(conn.execute(query).rowcount)

    def close(self) -> None:
        """Dispose of the engine when this backend created it."""
        self._store.close()


__all__ = ["SQLAlchemyOutboxBackend"]
