"""The event store on any database SQLAlchemy 2 speaks (Core, no ORM): PostgreSQL for
applications spread over several machines, SQLite for one.

Same tables (generated from :mod:`acumbamail_smtp.store.schema`), indexes and behaviour as
:class:`~acumbamail_smtp.store.sqlite.SQLiteEventStore` (on SQLite both can open the same file),
including the join rule of :mod:`acumbamail_smtp.store.join`. Duplicate events are kept out by
the unique constraint on ``event_id`` with ``INSERT ... ON CONFLICT DO NOTHING``, so several
receivers may store the same event concurrently and exactly one row results.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Dialect,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    and_,
    bindparam,
    create_engine,
    delete,
    event,
    func,
    insert,
    make_url,
    or_,
    select,
    text,
)
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.types import TypeEngine

from ..errors import ConfigError
from ..events import Event, EventType
from ..result import SendResult
from .common import (
    PAGE_SIZE,
    Closing,
    Criterion,
    check_address,
    criteria,
    event_from_row,
    pages,
    raw_json,
    send_rows,
    split_duplicates,
    suppressed_among,
)
from .join import Wanted, join_sends, joined_events, late_join_rows, late_join_sql, recipient_join_sql
from .protocols import SendRecord, StoreOutcome, Suppression
from .schema import SCHEMA_VERSION, TABLES, needs_version
from .schema import Column as ColumnSpec
from .suppression import validate_reason


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


def column_type(spec: ColumnSpec) -> TypeEngine[Any]:
    """The SQLAlchemy type of a column of the schema spec."""
    if spec.type == "str":
        return String(spec.length)
    kinds: dict[str, Callable[[], TypeEngine[Any]]] = {
        "id": lambda: _ID, "int": Integer, "text": Text, "json": Text, "bytes": LargeBinary,
        "time": UTCDateTime}
    return kinds[spec.type]()


def build_tables(schema: str | None = None) -> tuple[MetaData, Table, Table, Table, Table]:
    """The store's tables from :data:`~acumbamail_smtp.store.schema.TABLES`, in ``schema`` when
    given: (metadata, schema_version, sends, events, suppressions)."""
    metadata = MetaData(schema=schema)
    for spec in TABLES:
        Table(spec.name, metadata,
              *[Column(c.name, column_type(c), nullable=c.nullable, primary_key=c.primary_key,
                       autoincrement=True if c.type == "id" else "auto") for c in spec.columns],
              *[UniqueConstraint(*i.columns, name=i.name) if i.unique else Index(i.name, *i.columns)
                for i in spec.indexes],
              sqlite_autoincrement=any(c.type == "id" for c in spec.columns))
    table = {t.name: t for t in metadata.tables.values()}
    return metadata, table["schema_version"], table["sends"], table["events"], table["suppressions"]


#: How each operator of :func:`~acumbamail_smtp.store.common.criteria` becomes SQLAlchemy.
_OPERATORS: dict[str, Callable[[Any, Any], ColumnElement[bool]]] = {
    "=": operator.eq, ">=": operator.ge, "<": operator.lt, "in": lambda c, v: c.in_(v)}


def _where(table: Table, found: list[Criterion]) -> list[ColumnElement[bool]]:
    return [_OPERATORS[op](table.c[column], value) for column, op, value in found]


class SQLAlchemyEventStore(Closing):
    """An :class:`~acumbamail_smtp.store.EventStore` on a SQLAlchemy engine.

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

    def _check_version(self, create: bool) -> None:
        with self.engine.begin() as conn:
            current = conn.execute(select(func.max(self._version.c.version))).scalar()
            if needs_version(current) and create:
                conn.execute(insert(self._version).values(version=SCHEMA_VERSION))

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
        late = late_join_rows(results)
        with self.engine.begin() as conn:
            conn.execute(insert(self._sends), rows)
            if late:
                conn.execute(text(late_join_sql(self._quote(self._events))), late)

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        s = self._sends
        where = _where(s, criteria("sent_at", since, until, category, recipient, status=status))
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
        """``(message_id, category)`` of the send each event reports on (the join rule)."""
        s = self._sends
        # the types of a Wanted row, so each dialect binds (and PostgreSQL casts) them right
        kinds: tuple[TypeEngine[Any], ...] = (Integer(), s.c.recipient.type, s.c.sent_at.type,
                                              s.c.sent_at.type)

        def by_queue_id(keys: Sequence[str]) -> list[Any]:
            return list(conn.execute(select(s.c.queue_id, s.c.recipient, s.c.message_id, s.c.category)
                                     .where(s.c.queue_id.in_(keys)).order_by(s.c.id)).all())

        def by_recipient(wanted: Sequence[Wanted]) -> list[Any]:
            binds: list[Any] = []
            for k, row in enumerate(wanted):
                binds += [bindparam(f"{name}{k}", value, type_=kind)
                          for name, value, kind in zip("nrtl", row, kinds, strict=True)]
            marks = [f"(:n{k}, :r{k}, :t{k}, :l{k})" for k in range(len(wanted))]
            sql = recipient_join_sql(self._quote(s), marks)
            return list(conn.execute(text(sql).bindparams(*binds)).all())

        return join_sends(events, by_queue_id, by_recipient)

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        e = self._events
        where = _where(e, criteria("timestamp", since, until, category, recipient, types=type))
        query = select(e.c.id, e.c.timestamp, e.c.event_id, e.c.type, e.c.recipient, e.c.timestamp,
                       e.c.message_key, e.c.url, e.c.category, e.c.message_id, e.c.raw)
        for row in self._pages(query, e, e.c.timestamp, where):
            yield event_from_row(tuple(row[2:]))

    def _pages(self, query: Select[Any], table: Table, time_column: Any,
               where: list[ColumnElement[bool]]) -> Iterator[Any]:
        """Rows ordered by ``(time_column, id)``, fetched ``page_size`` at a time."""
        def fetch(last: tuple[datetime, int] | None) -> list[Any]:
            clauses = list(where)
            if last is not None:
                clauses.append(or_(time_column > last[0],
                                   and_(time_column == last[0], table.c.id > last[1])))
            page = query.where(*clauses).order_by(time_column, table.c.id).limit(self.page_size)
            with self.engine.connect() as conn:
                return list(conn.execute(page).all())

        return pages(fetch, lambda row: (row[1], row[0]), self.page_size)

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        column = self._suppressions.c.address
        with self.engine.connect() as conn:
            return suppressed_among(addresses, lambda chunk: list(
                conn.execute(select(column).where(column.in_(chunk))).scalars()))

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

        def fetch(last: str | None) -> list[Any]:
            with self.engine.connect() as conn:
                return list(conn.execute(
                    select(t.c.address, t.c.reason, t.c.created_at, t.c.event_id)
                    .where(t.c.address > (last or "")).order_by(t.c.address).limit(self.page_size)).all())

        for row in pages(fetch, lambda row: str(row[0]), self.page_size):
            yield Suppression(row[0], row[1], row[2], row[3])

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
        quote = self._quote
        statement = text(sql.format(sends=quote(self._sends), events=quote(self._events),
                                    suppressions=quote(self._suppressions)))
        stamps = [bindparam(key, type_=UTCDateTime()) for key, value in values.items()
                  if isinstance(value, datetime)]
        if stamps:
            statement = statement.bindparams(*stamps)
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(statement, values)]

    def _quote(self, table: Table) -> str:
        """``table``'s name as this engine's SQL spells it (schema-qualified)."""
        return str(self.engine.dialect.identifier_preparer.format_table(table))

    def close(self) -> None:
        if self._owns_engine:
            self.engine.dispose()


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
