"""``DjangoEventStore``: the core's :class:`~acumbamail_smtp.EventStore` on the Django ORM, in the
project's own database (the models of this app), so webhooks, suppression and the admin share it.

Same behaviour as the core stores, join rule included (see :mod:`acumbamail_smtp.store.sqlite`), and
the same set-based work per webhook post, in one ``transaction.atomic`` block, with the core's
helpers. Duplicate events are skipped by ``event_id``, exactly: an event a concurrent post stored
first is reported as a duplicate by both, never as new twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from acumbamail_smtp.events import Event, EventType, normalize_address
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.store.sqlite import (
    JOIN_SKEW,
    PAGE_SIZE,
    SendRecord,
    StoreOutcome,
    aware,
    check_address,
    check_status,
    event_types,
    join_by_queue_id,
    joined_events,
    send_rows,
    split_duplicates,
)
from acumbamail_smtp.store.suppression import Suppression, validate_reason
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery

from . import models

#: Addresses per ``IN (...)`` query (SQLite limits the number of parameters).
_CHUNK = 500
#: A ``:name`` parameter of :meth:`DjangoEventStore.read_sql` (not a PostgreSQL ``::cast``).
_PARAMETER = re.compile(r"(?<![:\w]):(\w+)")


def _to_db(value: datetime) -> datetime:
    """An aware UTC datetime as the database takes it (naive UTC when ``USE_TZ`` is off)."""
    value = value.astimezone(UTC)
    return value if settings.USE_TZ else value.replace(tzinfo=None)


def _from_db(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DjangoEventStore:
    """An event store on the Django ORM (models ``Send``, ``Event`` and ``Suppression``).

    Stateless apart from ``page_size``: any number of instances share the database. Writes go to
    the database the routers choose for the models.
    """

    def __init__(self) -> None:
        #: Rows per query of the iterators.
        self.page_size = PAGE_SIZE

    def __repr__(self) -> str:
        return "DjangoEventStore()"

    @staticmethod
    def _atomic(model: type[Any]) -> transaction.Atomic:
        return transaction.atomic(using=router.db_for_write(model))

    # -- sends -----------------------------------------------------------------------------------

    def record_sends(self, results: Sequence[SendResult]) -> None:
        rows = send_rows(results)
        if not rows:
            return
        with self._atomic(models.Send):
            models.Send.objects.bulk_create(
                [models.Send(**{**row, "sent_at": _to_db(row["sent_at"]),
                                "message_id": row["message_id"][:models.MESSAGE_ID_LENGTH]}) for row in rows])
            for result in results:
                if result.queue_id:  # events that arrived before their send was recorded
                    models.Event.objects.filter(message_key=result.queue_id, message_id__isnull=True).update(
                        message_id=result.message_id[:models.MESSAGE_ID_LENGTH], category=result.category)

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        query = _range(models.Send.objects.all(), "sent_at", since, until)
        if category is not None:
            query = query.filter(category=category)
        if recipient is not None:
            query = query.filter(recipient=normalize_address(recipient))
        if check_status(status) is not None:
            query = query.filter(status=status)
        for row in self._pages(query, "sent_at"):
            yield SendRecord(recipient=row.recipient, message_id=row.message_id, queue_id=row.queue_id,
                             category=row.category, sent_at=_from_db(row.sent_at), status=row.status,
                             reply_code=row.reply_code, reply_text=row.reply_text)

    # -- events ----------------------------------------------------------------------------------

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        """Set-based, as the core stores: one query for the stored ids, one for the queue ids,
        one bulk insert, one join by recipient (an ``UPDATE`` of the rows just inserted, read
        back), all in one transaction. An event another receiver stored after our look-up is
        a duplicate, not new: the bulk insert runs in a savepoint and, should it hit the unique
        ``event_id``, the rows are inserted one by one, each in its own savepoint."""
        if not events:
            return StoreOutcome()
        db = router.db_for_write(models.Event)
        received_at = _to_db(datetime.now(UTC))
        with transaction.atomic(using=db):
            rows = models.Event.objects.using(db)
            ids = [event.event_id for event in events]
            stored: set[str] = set()
            for start in range(0, len(ids), _CHUNK):
                stored.update(rows.filter(event_id__in=ids[start:start + _CHUNK])
                              .values_list("event_id", flat=True))
            outcome = split_duplicates(events, stored)
            if not outcome.new:
                return outcome
            joins = self._joins_by_queue_id(db, outcome.new)
            by_queue_id = joined_events(outcome.new, joins)
            inserted = _insert_events(db, [
                models.Event(event_id=e.event_id, type=e.type.value, recipient=e.recipient,
                             timestamp=_to_db(e.timestamp), message_key=e.message_key, url=e.url,
                             category=e.category, message_id=e.message_id, raw=dict(e.raw),
                             received_at=received_at)
                for e in by_queue_id])
            rest = [n for n, joined in enumerate(joins) if joined is None
                    and outcome.new[n].event_id in inserted]
            for n, joined in self._joins_by_recipient(db, [outcome.new[n] for n in rest]).items():
                joins[rest[n]] = joined
        if len(inserted) == len(outcome.new):
            return StoreOutcome(new=joined_events(outcome.new, joins), duplicates=outcome.duplicates)
        # another receiver stored some of them since our look-up: those are duplicates
        final = split_duplicates(events, stored | {e.event_id for e in outcome.new} - inserted)
        by_id = {e.event_id: e for e in joined_events(outcome.new, joins)}
        return StoreOutcome(new=[by_id[e.event_id] for e in final.new], duplicates=final.duplicates)

    @staticmethod
    def _joins_by_queue_id(db: str, events: Sequence[Event]) -> list[tuple[str, str | None] | None]:
        """Step 1 of the core's join rule, with one query for every queue id of the batch."""
        keys = sorted({e.message_key for e in events if e.message_key})
        rows: list[Any] = []
        for start in range(0, len(keys), _CHUNK):
            rows += models.Send.objects.using(db).filter(queue_id__in=keys[start:start + _CHUNK]) \
                .order_by("id").values_list("queue_id", "recipient", "message_id", "category")
        return join_by_queue_id(events, rows)

    @staticmethod
    def _joins_by_recipient(db: str, events: Sequence[Event]) -> dict[int, tuple[str, str | None]]:
        """Step 2 of the core's join rule for ``events``, already inserted: one ``UPDATE`` sets
        each row's ``message_id`` and ``category`` from its recipient's latest accepted send at
        or before its timestamp (a correlated subquery, so any Django database runs it), a
        second one, for the rows still unjoined, from the earliest within ``JOIN_SKEW`` after
        it; then one query reads the rows back; ``{index in events: (message_id, category)}``."""
        joins: dict[int, tuple[str, str | None]] = {}
        if not events:
            return joins
        latest = models.Send.objects.using(db).filter(
            recipient=OuterRef("recipient"), status="sent", sent_at__lte=OuterRef("timestamp"),
        ).order_by("-sent_at", "-id")
        skewed = models.Send.objects.using(db).filter(
            recipient=OuterRef("recipient"), status="sent", sent_at__gt=OuterRef("timestamp"),
            sent_at__lte=ExpressionWrapper(OuterRef("timestamp") + JOIN_SKEW, output_field=DateTimeField()),
        ).order_by("sent_at", "id")
        number = {e.event_id: n for n, e in enumerate(events)}
        ids = list(number)
        for start in range(0, len(ids), _CHUNK):
            chunk = models.Event.objects.using(db).filter(event_id__in=ids[start:start + _CHUNK])
            chunk.filter(Exists(latest)).update(message_id=Subquery(latest.values("message_id")[:1]),
                                               category=Subquery(latest.values("category")[:1]))
            chunk.filter(~Exists(latest), Exists(skewed)).update(
                message_id=Subquery(skewed.values("message_id")[:1]),
                category=Subquery(skewed.values("category")[:1]))
            for event_id, message_id, category in chunk.values_list("event_id", "message_id", "category"):
                if message_id is not None:  # what is stored is what we announce
                    joins[number[event_id]] = (message_id, category)
        return joins

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        query = _range(models.Event.objects.all(), "timestamp", since, until)
        if category is not None:
            query = query.filter(category=category)
        if recipient is not None:
            query = query.filter(recipient=normalize_address(recipient))
        types = event_types(type)
        if types is not None:
            query = query.filter(type__in=types)
        for row in self._pages(query, "timestamp"):
            raw = row.raw if isinstance(row.raw, dict) else {"raw": row.raw}
            yield Event(type=EventType(row.type), recipient=row.recipient, timestamp=_from_db(row.timestamp),
                        message_key=row.message_key, url=row.url, category=row.category,
                        message_id=row.message_id, event_id=row.event_id, raw=raw)

    def _pages(self, query: QuerySet[Any], column: str) -> Iterator[Any]:
        """Rows ordered by ``(column, id)``, fetched ``page_size`` at a time."""
        last: tuple[datetime, int] | None = None
        while True:
            page = query
            if last is not None:
                after = Q(**{f"{column}__gt": last[0]}) | Q(**{column: last[0], "id__gt": last[1]})
                page = page.filter(after)
            rows = list(page.order_by(column, "id")[:self.page_size])
            yield from rows
            if len(rows) < self.page_size:
                return
            last = (getattr(rows[-1], column), rows[-1].id)

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        given = list(addresses)
        wanted = sorted({normalize_address(a) for a in given})
        found: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            found.update(models.Suppression.objects.filter(address__in=wanted[start:start + _CHUNK])
                         .values_list("address", flat=True))
        return {a for a in given if normalize_address(a) in found}

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        value = check_address(address)
        validate_reason(reason)
        with self._atomic(models.Suppression):
            _, created = models.Suppression.objects.get_or_create(
                address=value, defaults={"reason": reason, "event_id": event_id,
                                         "created_at": _to_db(datetime.now(UTC))})
        return created

    def unsuppress(self, address: str) -> bool:
        deleted, _ = models.Suppression.objects.filter(address=check_address(address)).delete()
        return deleted > 0

    def suppressions(self) -> Iterator[Suppression]:
        last = ""
        while True:
            query = models.Suppression.objects.filter(address__gt=last).order_by("address")
            rows = list(query[:self.page_size])
            for row in rows:
                yield Suppression(row.address, row.reason, _from_db(row.created_at), row.event_id)
            if len(rows) < self.page_size:
                return
            last = rows[-1].address

    # -- SQL for reports -------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        """The SQL dialect :meth:`read_sql` speaks: Django's database vendor (``"sqlite"``,
        ``"postgresql"``...)."""
        return str(connections[router.db_for_read(models.Send)].vendor)

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        """The rows of one read-only query (used by :mod:`acumbamail_smtp.reports.queries`): ``{sends}``,
        ``{events}`` and ``{suppressions}`` name this app's tables, ``:name`` marks a parameter;
        datetime parameters are bound as Django stores them."""
        connection = connections[router.db_for_read(models.Send)]
        quote = connection.ops.quote_name
        values = {key: connection.ops.adapt_datetimefield_value(_to_db(aware(value, key)))
                  if isinstance(value, datetime) else value for key, value in (params or {}).items()}
        query = sql.format(sends=quote(models.Send._meta.db_table), events=quote(models.Event._meta.db_table),
                           suppressions=quote(models.Suppression._meta.db_table))
        query = _PARAMETER.sub(r"%(\1)s", query.replace("%", "%%"))
        with connection.cursor() as cursor:
            cursor.execute(query, values)
            return [tuple(row) for row in cursor.fetchall()]

    def close(self) -> None:
        """Nothing to release: Django owns the database connections."""


def _insert_events(db: str, rows: list[models.Event]) -> set[str]:
    """Insert ``rows``; the event ids inserted. One statement unless another receiver stored one
    of them meanwhile (the unique ``event_id`` refuses it): then one savepoint per row."""
    try:
        with transaction.atomic(using=db):
            models.Event.objects.using(db).bulk_create(rows)
        return {row.event_id for row in rows}
    except IntegrityError:
        pass
    inserted: set[str] = set()
    for row in rows:
        try:
            with transaction.atomic(using=db):
                row.pk = None
                row.save(using=db, force_insert=True)
            inserted.add(row.event_id)
        except IntegrityError:
            continue
    return inserted


def _range(query: QuerySet[Any], column: str, since: datetime | None,
           until: datetime | None) -> QuerySet[Any]:
    if since is not None:
        query = query.filter(**{f"{column}__gte": _to_db(aware(since, "since"))})
    if until is not None:
        query = query.filter(**{f"{column}__lt": _to_db(aware(until, "until"))})
    return query
