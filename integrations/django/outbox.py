"""The outbox on the Django ORM: :class:`DjangoOutboxBackend`, the core outbox's backend over the
``QueuedEmail`` model in the project's database (so an enqueue inside ``transaction.atomic()``
commits or rolls back with the caller's work), and :func:`drain_outbox`, what ``manage.py
acumbamail_worker`` and the Django Tasks task run: the core's drain over that backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.outbox import DrainReport, Outbox, OutboxStats, QueuedMessage, drain
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.protocols import SendStore
from django.db import connections, router, transaction
from django.db.models import Count, Min, Q

from .models import QueuedEmail
from .signals import send_failed, send_robust


def _queued(row: QueuedEmail, reclaimed: bool = False) -> QueuedMessage:
    return QueuedMessage(
        id=row.pk, message_id=row.message_id, sender=row.sender, recipients=list(row.recipients),
        category=row.category, priority=row.priority, status=row.status, attempts=row.attempts,
        send_after=row.send_after, created_at=row.created_at, last_error=row.last_error,
        queue_id=row.queue_id, data=bytes(row.data), smtputf8=bool(row.smtputf8), metadata=row.metadata,
        reclaimed=reclaimed)


class DjangoOutboxBackend:
    """The outbox's rows as ``QueuedEmail`` models; writes use Django's current connection for
    the model's database, so they join the caller's transaction."""

    def __repr__(self) -> str:
        return "DjangoOutboxBackend()"

    @staticmethod
    def _db() -> str:
        return router.db_for_write(QueuedEmail)

    def insert(self, rows: Sequence[Mapping[str, Any]], connection: Any = None) -> None:
        """Insert the rows (``QueuedEmail`` fields). ``connection`` is ignored: Django's current
        connection is the caller's transaction."""
        QueuedEmail.objects.using(self._db()).bulk_create([QueuedEmail(**row) for row in rows])

    def claim(self, limit: int, worker: str, lease: float, now: datetime) -> list[QueuedMessage]:
        """Due rows (queued and ``send_after <= now``, or in flight past their lease), highest
        priority then oldest first, marked in flight for ``lease`` seconds, in one transaction
        (``SELECT ... FOR UPDATE SKIP LOCKED`` where the database has it; SQLite's write lock)."""
        db = self._db()
        due = Q(status="queued", send_after__lte=now) | Q(status="in_flight", lease_until__lt=now)
        with transaction.atomic(using=db):
            query = QueuedEmail.objects.using(db).filter(due).order_by("-priority", "created_at", "id")
            if connections[db].features.has_select_for_update_skip_locked:
                query = query.select_for_update(skip_locked=True)
            rows = list(query[:limit])
            reclaimed = [row.status == "in_flight" for row in rows]  # a dead worker's lease ran out
            until = now + timedelta(seconds=lease)
            for row in rows:
                row.status, row.worker, row.lease_until = "in_flight", worker, until
                row.attempts += 1
            QueuedEmail.objects.using(db).bulk_update(rows, ["status", "worker", "lease_until", "attempts"])
        return [_queued(row, again) for row, again in zip(rows, reclaimed, strict=True)]

    def update(self, id: int, **fields: Any) -> None:
        """Set ``fields`` on row ``id``; ``send_failed`` fires when it becomes failed."""
        QueuedEmail.objects.using(self._db()).filter(pk=id).update(**fields)
        if fields.get("status") == "failed":
            row = QueuedEmail.objects.using(self._db()).get(pk=id)
            send_robust(send_failed, DjangoOutboxBackend, message_id=row.message_id,
                        recipients=row.recipients, reason=row.last_error, queued=row)

    def stats(self, now: datetime) -> OutboxStats:
        """Counts by status and the age in seconds of the oldest queued message (None if none)."""
        rows = QueuedEmail.objects.using(self._db())
        counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        oldest = rows.filter(status="queued").aggregate(oldest=Min("created_at"))["oldest"]
        return OutboxStats(**{s: counts.get(s, 0) for s in ("queued", "in_flight", "failed", "sent")},
                           oldest_queued_age=None if oldest is None else (now - oldest).total_seconds())

    def list(self, status: str | None, limit: int) -> list[QueuedMessage]:
        rows = QueuedEmail.objects.using(self._db()).order_by("created_at", "id")
        return [_queued(row) for row in (rows if status is None else rows.filter(status=status))[:limit]]

    def retry(self, ids: Sequence[str] | None) -> int:
        """Failed rows (all, or those with these Message-IDs) back to queued, due now; how many."""
        rows = QueuedEmail.objects.using(self._db()).filter(status="failed")
        if ids is not None:
            rows = rows.filter(message_id__in=list(ids))
        return rows.update(status="queued", send_after=datetime.now(UTC), lease_until=None, worker=None)

    def purge(self, status: str, older_than: datetime | None) -> int:
        """Delete the rows in ``status`` created before ``older_than`` (all when None); how many."""
        rows = QueuedEmail.objects.using(self._db()).filter(status=status)
        if older_than is not None:
            rows = rows.filter(created_at__lt=older_than)
        deleted, _ = rows.delete()
        return deleted


def django_outbox() -> Outbox:
    """The core :class:`~acumbamail_smtp.outbox.Outbox` on the project's ``QueuedEmail`` table."""
    return Outbox(DjangoOutboxBackend())


def drain_outbox(config: RelayConfig, *, store: SendStore | None = None, batch: int = 100,
                 lease: float = 60.0, worker: str | None = None, deadline: timedelta = timedelta(days=1),
                 max_batches: int | None = None) -> DrainReport:
    """Send every due message over one connection, batch by batch, until none is due (the core's
    :func:`~acumbamail_smtp.outbox.drain`; the mailer tries once, the outbox retries)."""
    mailer = Mailer(dataclasses.replace(config, max_tries=1), store=store)
    try:
        return drain(django_outbox(), mailer, batch=batch, lease=lease, worker=worker, deadline=deadline,
                     max_batches=max_batches)
    finally:
        mailer.close()
