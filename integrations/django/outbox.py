"""The outbox on the Django ORM: :class:`DjangoOutboxBackend` (the ``QueuedEmail`` model, in the
project's database, so an enqueue inside ``transaction.atomic()`` commits or rolls back with the
caller's work) and :func:`drain_outbox`, what ``manage.py acumbamail_worker`` and the Django
Tasks task run: claim due messages under a lease, send them over one connection, mark each.

Written to the outbox contract of issue 13 (``acumbamail_smtp.outbox``); once the core outbox is
merged, :func:`drain_outbox` hands the loop to its ``drain`` and keeps only the Django wiring.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import (
    ConnectionFailed,
    PermanentError,
    RecipientsRefused,
    SendError,
    TransientError,
)
from acumbamail_smtp.message import PreparedMessage, prepare_raw
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.policy import backoff_delay
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.protocols import SendStore
from django.db import connections, router, transaction
from django.db.models import Count, Min, Q

from .models import QueuedEmail
from .signals import send_failed, send_robust

logger = logging.getLogger("acumbamail_smtp.django")


def _now() -> datetime:
    return datetime.now(UTC)


def worker_name() -> str:
    """``host:pid``, the default name of a worker holding leases."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True, slots=True)
class DrainReport:
    """What one drain did: messages sent, put back for a retry, failed, and ambiguous (the
    connection dropped after the end of DATA: retried, a possible duplicate)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    ambiguous: int = 0


class DjangoOutboxBackend:
    """The outbox's rows as ``QueuedEmail`` models; writes use Django's current connection for
    the model's database, so they join the caller's transaction."""

    def __repr__(self) -> str:
        return "DjangoOutboxBackend()"

    @staticmethod
    def _db() -> str:
        return router.db_for_write(QueuedEmail)

    def insert(self, rows: Sequence[Mapping[str, Any]], connection: Any = None) -> list[int]:
        """Insert the rows (``QueuedEmail`` fields); their ids. ``connection`` is ignored: Django's
        current connection is the caller's transaction."""
        made = QueuedEmail.objects.using(self._db()).bulk_create([QueuedEmail(**row) for row in rows])
        return [row.pk for row in made]

    def claim(self, limit: int, worker: str, lease: float, now: datetime) -> list[QueuedEmail]:
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
            until = now + timedelta(seconds=lease)
            for row in rows:
                row.status, row.worker, row.lease_until = "in_flight", worker, until
                row.attempts += 1
            QueuedEmail.objects.using(db).bulk_update(rows, ["status", "worker", "lease_until", "attempts"])
        return rows

    def update(self, id: int, **fields: Any) -> None:
        """Set ``fields`` on row ``id``; ``send_failed`` fires when it becomes failed."""
        QueuedEmail.objects.using(self._db()).filter(pk=id).update(**fields)
        if fields.get("status") == "failed":
            row = QueuedEmail.objects.using(self._db()).get(pk=id)
            send_robust(send_failed, DjangoOutboxBackend, message_id=row.message_id,
                        recipients=row.recipients, reason=row.last_error, queued=row)

    def stats(self, now: datetime) -> dict[str, Any]:
        """Counts by status and the age in seconds of the oldest queued message (None if none)."""
        rows = QueuedEmail.objects.using(self._db())
        counts = dict(rows.values_list("status").annotate(n=Count("id")).values_list("status", "n"))
        oldest = rows.filter(status="queued").aggregate(oldest=Min("created_at"))["oldest"]
        out: dict[str, Any] = {s: counts.get(s, 0) for s in ("queued", "in_flight", "failed", "sent")}
        out["oldest_queued_age"] = None if oldest is None else (now - oldest).total_seconds()
        return out

    def list(self, status: str | None, limit: int) -> list[QueuedEmail]:
        rows = QueuedEmail.objects.using(self._db()).order_by("-created_at", "-id")
        return list((rows if status is None else rows.filter(status=status))[:limit])

    def retry(self, ids: Iterable[int] | None) -> int:
        """Failed rows (all, or those of ``ids``) back to queued, due now; how many."""
        rows = QueuedEmail.objects.using(self._db()).filter(status="failed")
        if ids is not None:
            rows = rows.filter(pk__in=list(ids))
        return rows.update(status="queued", send_after=_now(), lease_until=None, worker=None)

    def purge(self, status: str, older_than: datetime | None) -> int:
        """Delete the rows in ``status`` created before ``older_than`` (all when None); how many."""
        rows = QueuedEmail.objects.using(self._db()).filter(status=status)
        if older_than is not None:
            rows = rows.filter(created_at__lt=older_than)
        deleted, _ = rows.delete()
        return deleted


def prepared_of(row: QueuedEmail) -> PreparedMessage:
    """The row's message as the mailer sends it (envelope from the row, bytes as stored)."""
    envelope = prepare_raw(bytes(row.data), row.sender, row.recipients, message_id=row.message_id,
                           category=row.category)
    return envelope


def drain_outbox(config: RelayConfig, *, store: SendStore | None = None, batch: int = 100,
                 lease: float = 60.0, worker: str | None = None, deadline: timedelta = timedelta(days=1),
                 max_batches: int | None = None, backend: DjangoOutboxBackend | None = None) -> DrainReport:
    """Send every due message over one connection, batch by batch, until none is due."""
    outbox = backend or DjangoOutboxBackend()
    name = worker or worker_name()
    totals = [0, 0, 0, 0]
    batches = 0
    mailer = Mailer(config, store=store)
    with ExitStack() as stack:
        while max_batches is None or batches < max_batches:
            rows = outbox.claim(batch, name, lease, _now())
            if not rows:
                break
            batches += 1
            if batches == 1:
                _keep_open(mailer, stack)
            for row in rows:
                totals[_send_one(outbox, mailer, config, row, deadline)] += 1
    return DrainReport(*totals)


def _keep_open(mailer: Mailer, stack: ExitStack) -> None:
    """Hold one connection for the drain; if the relay cannot be reached now, each send tries
    again and its fault is marked on its own message."""
    try:
        stack.enter_context(mailer)
    except SendError:
        logger.warning("outbox: cannot connect to the relay; the claimed messages are retried later")


def _send_one(outbox: DjangoOutboxBackend, mailer: Mailer, config: RelayConfig, row: QueuedEmail,
              deadline: timedelta) -> int:
    """Send one claimed row and mark it; the index in DrainReport's counts of what happened."""
    try:
        result: SendResult = mailer.send_prepared(prepared_of(row))
    except (RecipientsRefused, PermanentError) as exc:
        _mark_failed(outbox, row, str(exc))
        return 2
    except (TransientError, ConnectionFailed) as exc:
        ambiguous = bool(getattr(exc, "ambiguous", False))
        if ambiguous:
            logger.warning("outbox: connection lost after the end of DATA for %s; retried, may arrive twice",
                           row.message_id)
        if _now() - row.created_at >= deadline or (isinstance(exc, ConnectionFailed) and not exc.retryable):
            _mark_failed(outbox, row, str(exc))
            return 2
        outbox.update(row.pk, status="queued", last_error=str(exc), lease_until=None, worker=None,
                      send_after=_now() + timedelta(seconds=backoff_delay(config, row.attempts)))
        return 3 if ambiguous else 1
    except SendError as exc:
        _mark_failed(outbox, row, str(exc))
        return 2
    reply = result.reply
    outbox.update(row.pk, status="sent", sent_at=result.sent_at, queue_id=result.queue_id,
                  lease_until=None, reply_code=None if reply is None else reply.code,
                  reply_text=None if reply is None else reply.text)
    return 0


def _mark_failed(outbox: DjangoOutboxBackend, row: QueuedEmail, reason: str) -> None:
    outbox.update(row.pk, status="failed", last_error=reason, lease_until=None)
