"""The event store on any database SQLAlchemy 2 speaks (Core, no ORM): PostgreSQL for
applications spread over several machines, SQLite for one.

Same tables, indexes and behaviour as :class:`~acumbamail_smtp.store.sqlite.SQLiteEventStore` (on SQLite
both can open the same file), including the join rule documented in
:mod:`acumbamail_smtp.store.sqlite`. Duplicate events are kept out by the unique constraint on
``event_id`` with ``INSERT ... ON CONFLICT DO NOTHING``, so several receivers may store the same
event concurrently and exactly one row results.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    bindparam,
    column,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    or_,
    select,
    text,
    update,
    values,
)
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ColumnElement, Select

from ..errors import ConfigError
from ..events import Event, EventType, normalize_address
from ..result import SendResult
from .sqlite import (
    JOIN_SKEW,
    PAGE_SIZE,
    SCHEMA_VERSION,
    SendRecord,
    StoreOutcome,
    aware,
    check_address,
    check_status,
    event_from_row,
    event_types,
    join_by_queue_id,
    joined_events,
    raw_json,
    send_rows,
    split_duplicates,
)
from .suppression import Suppression, validate_reason

_CHUNK = 500
#: Events per recipient-join query (four parameters each).
_JOIN_CHUNK = 240


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime: ``timestamptz`` on PostgreSQL; on SQLite, naive UTC text in
    SQLAlchemy's format (the one :class:`SQLiteEventStore` writes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_ID = BigInteger().with_variant(Integer(), "sqlite")


def build_tables(schema: str | None = None) -> tuple[MetaData, Table, Table, Table, Table]:
    """The store's tables, in ``schema`` when given: (metadata, schema_version, sends, events,
    suppressions)."""
    metadata = MetaData(schema=schema)
    version = Table("schema_version", metadata, Column("version", Integer, nullable=False))
    sends = Table(
        "sends", metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("recipient", String(320), nullable=False),
        Column("message_id", String(998), nullable=False),
        Column("queue_id", String(255)),
        Column("category", String(255)),
        Column("sent_at", UTCDateTime(), nullable=False),
        Column("status", String(16), nullable=False),
        Column("reply_code", Integer),
        Column("reply_text", Text),
        Index("ix_sends_queue_id", "queue_id"),
        Index("ix_sends_recipient_sent_at", "recipient", "sent_at"),
        Index("ix_sends_category_sent_at", "category", "sent_at"),
        Index("ix_sends_sent_at", "sent_at"),
        sqlite_autoincrement=True,
    )
    events = Table(
        "events", metadata,
        Column("id", _ID, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False),
        Column("type", String(32), nullable=False),
        Column("recipient", String(320), nullable=False),
        Column("timestamp", UTCDateTime(), nullable=False),
        Column("message_key", String(255)),
        Column("url", Text),
        Column("category", String(255)),
        Column("message_id", String(998)),
        Column("raw", Text, nullable=False),
        Column("received_at", UTCDateTime(), nullable=False),
        UniqueConstraint("event_id", name="uq_events_event_id"),
        Index("ix_events_type_timestamp", "type", "timestamp"),
        Index("ix_events_category_timestamp", "category", "timestamp"),
        Index("ix_events_recipient_timestamp", "recipient", "timestamp"),
        Index("ix_events_message_key", "message_key"),
        Index("ix_events_message_id_recipient", "message_id", "recipient", "type"),
        sqlite_autoincrement=True,
    )
    suppressions = Table(
        "suppressions", metadata,
        Column("address", String(320), primary_key=True),
        Column("reason", String(32), nullable=False),
        Column("created_at", UTCDateTime(), nullable=False),
        Column("event_id", String(64)),
    )
    return metadata, version, sends, events, suppressions


class SQLAlchemyEventStore:
    """An :class:`~acumbamail_smtp.store.sqlite.EventStore` on a SQLAlchemy engine.

    ``url_or_engine`` is a URL (``postgresql+psycopg://user:pw@host/db``, ``sqlite:///path``) or an
    :class:`~sqlalchemy.engine.Engine` you own (then ``close()`` leaves it open). ``schema`` puts
    the tables in a PostgreSQL schema. Tables are created when missing unless
    ``create_tables=False``. ``engine_options`` go to :func:`sqlalchemy.create_engine`.
    """

    def __init__(self, url_or_engine: str | URL | Engine, *, schema: str | None = None,
                 create_tables: bool = True, engine_options: Mapping[str, Any] | None = None) -> None:
        if isinstance(url_or_engine, Engine):
            self.engine = url_or_engine
            self._owns_engine = False
        else:
            self.engine = _create_engine(url_or_engine, dict(engine_options or {}))
            self._owns_engine = True
        #: Rows per query of the iterators.
        self.page_size = PAGE_SIZE
        (self.metadata, self._version, self._sends, self._events,
         self._suppressions) = build_tables(schema)
        try:
            if create_tables:
                self.metadata.create_all(self.engine)
            self._check_version(create_tables)
        except BaseException as exc:
            if self._owns_engine:
                self.engine.dispose()
            if not isinstance(exc, SQLAlchemyError):
                raise
            cause = getattr(exc, "orig", None) or exc
            raise ConfigError("store", f"cannot use database {self._safe_url}: "
                                       f"{type(cause).__name__}: {str(cause).splitlines()[0]}") from exc

    @property
    def _safe_url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"SQLAlchemyEventStore({self._safe_url!r})"

    def __enter__(self) -> SQLAlchemyEventStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_version(self, create: bool) -> None:
        with self.engine.begin() as conn:
            current = conn.execute(select(func.max(self._version.c.version))).scalar()
            if current is None and create:
                conn.execute(insert(self._version).values(version=SCHEMA_VERSION))
            elif current is not None and current > SCHEMA_VERSION:
                raise ConfigError("store", f"schema version {current} is newer than this library "
                                           f"supports ({SCHEMA_VERSION}); upgrade acumbamail-smtp")

    # -- inserts that may collide ----------------------------------------------------------------

    def _insert_ignoring(self, conn: Connection, table: Table, key: str, values: dict[str, Any]) -> bool:
        """Insert ``values`` unless a row with the same ``key`` exists; True if inserted."""
        dialect = conn.dialect.name
        if dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            stmt = (postgresql.insert(table).values(values)
                    .on_conflict_do_nothing(index_elements=[key]).returning(table.c[key]))
            return conn.execute(stmt).first() is not None  # rowcount is -1 with RETURNING
        if dialect == "sqlite":
            from sqlalchemy.dialects import sqlite

            lite = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=[key])
            return conn.execute(lite).rowcount == 1
        try:  # other databases: a savepoint per row, the unique constraint decides
            with conn.begin_nested():
                conn.execute(insert(table).values(values))
            return True
        except IntegrityError:
            return False

    # -- sends -----------------------------------------------------------------------------------

    def record_sends(self, results: Sequence[SendResult]) -> None:
        rows = send_rows(results)
        if not rows:
            return
        sends, events = self._sends, self._events
        with self.engine.begin() as conn:
            conn.execute(insert(sends), rows)
            for result in results:
                if result.queue_id:  # events that arrived before their send was recorded
                    conn.execute(
                        update(events)
                        .where(events.c.message_key == result.queue_id, events.c.message_id.is_(None))
                        .values(message_id=result.message_id, category=result.category))

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        s = self._sends
        where = _range(s.c.sent_at, since, until)
        if category is not None:
            where.append(s.c.category == category)
        if recipient is not None:
            where.append(s.c.recipient == normalize_address(recipient))
        if check_status(status) is not None:
            where.append(s.c.status == status)
        query = select(s.c.id, s.c.sent_at, s.c.recipient, s.c.message_id, s.c.queue_id,
                       s.c.category, s.c.status, s.c.reply_code, s.c.reply_text)
        for row in self._pages(query, s, s.c.sent_at, where):
            yield SendRecord(recipient=row[2], message_id=row[3], queue_id=row[4], category=row[5],
                             sent_at=row[1], status=row[6], reply_code=row[7], reply_text=row[8])

    # -- events ----------------------------------------------------------------------------------

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        if not events:
            return StoreOutcome()
        first = split_duplicates(events, frozenset()).new  # the first of each event_id
        received_at = datetime.now(UTC)
        with self.engine.begin() as conn:
            joined = joined_events(first, self._joins(conn, first))
            inserted = self._insert_events(conn, [
                {"event_id": item.event_id, "type": item.type.value, "recipient": item.recipient,
                 "timestamp": item.timestamp, "message_key": item.message_key, "url": item.url,
                 "category": item.category, "message_id": item.message_id,
                 "raw": raw_json(item.raw), "received_at": received_at} for item in joined])
        outcome = split_duplicates(events, {e.event_id for e in first} - inserted)
        by_id = {item.event_id: item for item in joined}
        return StoreOutcome(new=[by_id[e.event_id] for e in outcome.new], duplicates=outcome.duplicates)

    def _insert_events(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        """Insert the rows whose ``event_id`` is not stored yet, in one statement where the
        database can say which rows it inserted (``ON CONFLICT DO NOTHING RETURNING``, safe
        against concurrent receivers); the event ids inserted."""
        table = self._events
        dialect = conn.dialect
        if dialect.name in ("postgresql", "sqlite") and dialect.insert_executemany_returning:
            from sqlalchemy.dialects import postgresql, sqlite

            stmt = (postgresql.insert(table) if dialect.name == "postgresql" else sqlite.insert(table)
                    ).on_conflict_do_nothing(index_elements=["event_id"]).returning(table.c.event_id)
            return set(conn.execute(stmt, rows).scalars())
        return {row["event_id"] for row in rows if self._insert_ignoring(conn, table, "event_id", row)}

    def _joins(self, conn: Connection, events: Sequence[Event]) -> list[tuple[str, str | None] | None]:
        """``(message_id, category)`` of the send each event reports on (see :mod:`.store`):
        one query for the queue ids, one per few hundred events for the recipients."""
        s = self._sends
        keys = sorted({e.message_key for e in events if e.message_key})
        rows: list[Any] = []
        for start in range(0, len(keys), _CHUNK):
            rows += conn.execute(
                select(s.c.queue_id, s.c.recipient, s.c.message_id, s.c.category)
                .where(s.c.queue_id.in_(keys[start:start + _CHUNK])).order_by(s.c.id)).all()
        joins = join_by_queue_id(events, rows)
        rest = [n for n, found in enumerate(joins) if found is None]
        earlier, later = s.alias("earlier"), s.alias("later")
        for start in range(0, len(rest), _JOIN_CHUNK):
            wanted = values(column("n", Integer), column("recipient", String(320)),
                            column("ts", UTCDateTime()), column("late", UTCDateTime()), name="wanted").data(
                [(n, events[n].recipient, events[n].timestamp, events[n].timestamp + JOIN_SKEW)
                 for n in rest[start:start + _JOIN_CHUNK]]
            ).cte("wanted")
            latest = (select(earlier.c.id)
                      .where(earlier.c.recipient == wanted.c.recipient, earlier.c.status == "sent",
                             earlier.c.sent_at <= wanted.c.ts)
                      .order_by(earlier.c.sent_at.desc(), earlier.c.id.desc()).limit(1).scalar_subquery())
            skewed = (select(later.c.id)
                      .where(later.c.recipient == wanted.c.recipient, later.c.status == "sent",
                             later.c.sent_at > wanted.c.ts, later.c.sent_at <= wanted.c.late)
                      .order_by(later.c.sent_at, later.c.id).limit(1).scalar_subquery())
            query = (select(wanted.c.n, s.c.message_id, s.c.category).select_from(wanted)
                     .join(s, s.c.id == func.coalesce(latest, skewed)))
            for n, message_id, category in conn.execute(query):
                joins[n] = (message_id, category)
        return joins

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        e = self._events
        where = _range(e.c.timestamp, since, until)
        if category is not None:
            where.append(e.c.category == category)
        if recipient is not None:
            where.append(e.c.recipient == normalize_address(recipient))
        types = event_types(type)
        if types is not None:
            where.append(e.c.type.in_(types))
        query = select(e.c.id, e.c.timestamp, e.c.event_id, e.c.type, e.c.recipient, e.c.timestamp,
                       e.c.message_key, e.c.url, e.c.category, e.c.message_id, e.c.raw)
        for row in self._pages(query, e, e.c.timestamp, where):
            yield event_from_row(tuple(row[2:]))

    def _pages(self, query: Select[Any], table: Table, time_column: Any,
               where: list[ColumnElement[bool]]) -> Iterator[Any]:
        """Rows ordered by ``(time_column, id)``, fetched ``page_size`` at a time."""
        last: tuple[datetime, int] | None = None
        while True:
            clauses = list(where)
            if last is not None:
                clauses.append(or_(time_column > last[0],
                                   and_(time_column == last[0], table.c.id > last[1])))
            page = query.where(*clauses).order_by(time_column, table.c.id).limit(self.page_size)
            with self.engine.connect() as conn:
                rows = conn.execute(page).all()
            yield from rows
            if len(rows) < self.page_size:
                return
            last = (rows[-1][1], rows[-1][0])

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        given = list(addresses)
        wanted = sorted({normalize_address(a) for a in given})
        column = self._suppressions.c.address
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start:start + _CHUNK]
                found.update(conn.execute(select(column).where(column.in_(chunk))).scalars())
        return {a for a in given if normalize_address(a) in found}

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        values = {"address": check_address(address), "reason": validate_reason(reason),
                  "created_at": datetime.now(UTC), "event_id": event_id}
        with self.engine.begin() as conn:
            return self._insert_ignoring(conn, self._suppressions, "address", values)

    def unsuppress(self, address: str) -> bool:
        table = self._suppressions
        with self.engine.begin() as conn:
            result = conn.execute(delete(table).where(table.c.address == check_address(address)))
            return result.rowcount > 0

    def suppressions(self) -> Iterator[Suppression]:
        t = self._suppressions
        last = ""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(t.c.address, t.c.reason, t.c.created_at, t.c.event_id)
                    .where(t.c.address > last).order_by(t.c.address).limit(self.page_size)).all()
            for row in rows:
                yield Suppression(row[0], row[1], row[2], row[3])
            if len(rows) < self.page_size:
                return
            last = rows[-1][0]

    # -- SQL for reports -------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The SQL dialect :meth:`read_sql` speaks (``"postgresql"``, ``"sqlite"``...)."""
        return str(self.engine.dialect.name)

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of one read-only query (used by :mod:`acumbamail_smtp.reports.queries`): ``{sends}``,
        ``{events}`` and ``{suppressions}`` name the tables (schema-qualified), ``:name`` marks a
        parameter; datetime parameters are bound like the timestamp columns."""
        values = dict(params or {})
        quote = self.engine.dialect.identifier_preparer.format_table
        statement = text(sql.format(sends=quote(self._sends), events=quote(self._events),
                                    suppressions=quote(self._suppressions)))
        stamps = [bindparam(key, type_=UTCDateTime()) for key, value in values.items()
                  if isinstance(value, datetime)]
        if stamps:
            statement = statement.bindparams(*stamps)
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement, values)]

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


def _range(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if since is not None:
        where.append(column >= aware(since, "since"))
    if until is not None:
        where.append(column < aware(until, "until"))
    return where


def _create_engine(url: str | URL, options: dict[str, Any]) -> Engine:
    """An engine for ``url``; SQLite gets WAL, full sync and a busy timeout like the embedded store."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError("db_url", "is not a SQLAlchemy URL (expected dialect+driver://user:password"
                                    "@host/database or sqlite:///path)") from None
    safe = parsed.render_as_string(hide_password=True)
    is_sqlite = parsed.get_backend_name() == "sqlite"
    in_memory = is_sqlite and parsed.database in (None, "", ":memory:")
    if is_sqlite:
        connect_args = dict(options.pop("connect_args", {}))
        connect_args.setdefault("timeout", 30.0)
        if in_memory:  # one shared connection, or every thread would see its own empty database
            connect_args.setdefault("check_same_thread", False)
            options.setdefault("poolclass", StaticPool)
        options["connect_args"] = connect_args
    try:
        engine = create_engine(parsed, **options)
    except NoSuchModuleError as exc:
        raise ConfigError("db_url", f"{safe}: no driver for this dialect ({exc})") from None
    except (ArgumentError, ImportError) as exc:
        raise ConfigError("db_url", f"{safe}: {type(exc).__name__}: {exc}") from None
    if is_sqlite:
        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()
    return engine
