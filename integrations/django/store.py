"""``DjangoEventStore``: the core's :class:`~acumbamail_smtp.EventStore` on the Django ORM, in the
project's own database (the models of this app), so webhooks, suppression and the admin share it.

Same behaviour as the core stores, join rule included (see :mod:`acumbamail_smtp.store.join`), and
the same set-based work per webhook post, in one ``transaction.atomic`` block, with the core's
rules, limits and helpers (:mod:`acumbamail_smtp.store.common`); only the queries are the ORM's.
Duplicate events are skipped by ``event_id``, exactly: an event a concurrent post stored first is
reported as a duplicate by both, never as new twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from acumbamail_smtp.events import Event, EventType
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.store.common import (
    CHUNK,
    PAGE_SIZE,
    Criterion,
    aware,
    check_address,
    chunks,
    criteria,
    event_from_row,
    pages,
    send_rows,
    split_duplicates,
    suppressed_among,
)
from acumbamail_smtp.store.join import JOIN_SKEW, join_sends, joined_events, late_join_rows
from acumbamail_smtp.store.protocols import SendRecord, StoreOutcome, Suppression
from acumbamail_smtp.store.suppression import validate_reason
from django.conf import settings
from django.db import IntegrityError, connections, router, transaction
from django.db.models import DateTimeField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet, Subquery

from . import models

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
                [models.Send(**{**row, "sent_at": _to_db(row["sent_at"])}) for row in rows])
            for late in late_join_rows(results):  # events that arrived before their send was recorded
                models.Event.objects.filter(message_key=late["queue_id"], message_id__isnull=True).update(
                    message_id=late["message_id"], category=late["category"])

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        query = _filter(models.Send.objects.all(),
                        criteria("sent_at", since, until, category, recipient, status=status))
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
            stored = {event_id for ids in chunks([event.event_id for event in events])
                      for event_id in rows.filter(event_id__in=ids).values_list("event_id", flat=True)}
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
        sends = models.Send.objects.using(db).order_by("id")
        return join_sends(events, lambda keys: sends.filter(queue_id__in=keys).values_list(
            "queue_id", "recipient", "message_id", "category"), None)

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
        for ids in chunks(list(number), CHUNK):
            chunk = models.Event.objects.using(db).filter(event_id__in=ids)
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
        query = _filter(models.Event.objects.all(),
                        criteria("timestamp", since, until, category, recipient, types=type))
        for row in self._pages(query, "timestamp"):
            yield event_from_row((row.event_id, row.type, row.recipient, _from_db(row.timestamp),
                                  row.message_key, row.url, row.category, row.message_id, row.raw))

    def _pages(self, query: QuerySet[Any], column: str) -> Iterator[Any]:
        """Rows ordered by ``(column, id)``, fetched ``page_size`` at a time."""
        def fetch(last: tuple[datetime, int] | None) -> list[Any]:
            page = query
            if last is not None:
                after = Q(**{f"{column}__gt": last[0]}) | Q(**{column: last[0], "id__gt": last[1]})
                page = page.filter(after)
            return list(page.order_by(column, "id")[:self.page_size])

        return pages(fetch, lambda row: (getattr(row, column), row.id), self.page_size)

    # -- suppression -----------------------------------------------------------------------------

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        return suppressed_among(addresses, lambda chunk: models.Suppression.objects.filter(
            address__in=chunk).values_list("address", flat=True))

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
        rows = pages(lambda last: list(models.Suppression.objects.filter(address__gt=last or "")
                                       .order_by("address")[:self.page_size]),
                     lambda row: str(row.address), self.page_size)
        for row in rows:
            yield Suppression(row.address, row.reason, _from_db(row.created_at), row.event_id)

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


#: Django's lookup for each operator of :func:`~acumbamail_smtp.store.common.criteria`.
_LOOKUPS = {"=": "", ">=": "__gte", "<": "__lt", "in": "__in"}


def _filter(query: QuerySet[Any], found: list[Criterion]) -> QuerySet[Any]:
    """``query`` filtered by the core's validated criteria (times as the database takes them)."""
    return query.filter(**{column + _LOOKUPS[op]: _to_db(value) if isinstance(value, datetime) else value
                           for column, op, value in found})
