"""Delivering the outbox: :func:`drain` (a :class:`~acumbamail_smtp.Mailer`, one connection) and
:func:`adrain` (an :class:`~acumbamail_smtp.AsyncMailer` pool), claim after claim until nothing
is due. Suppression is checked again by the mailer's policy at send time; the mailer records each
send in its store, so webhook events join to it as for an inline send.

What becomes of a claimed message: accepted -> ``sent``; a 4xx or a lost connection -> back to
the queue after the configuration's backoff, until ``deadline`` after it was enqueued, then
``failed``; a 5xx or every recipient refused -> ``failed`` with the reply. A connection lost after
end-of-data (``ConnectionFailed.ambiguous``) and a message taken over from a dead worker are
counted as ``ambiguous`` and logged with the Message-ID: they may reach the relay twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from ..errors import ConnectionFailed, RecipientsRefused, SendError, TransientError
from ..result import SendResult
from ..smtp.policy import backoff_delay, is_retryable, only_deferred
from ..telemetry import hooks as telemetry
from .api import Outbox, default_worker
from .model import TRACEPARENT_KEY, DrainReport, QueuedMessage

if TYPE_CHECKING:
    from ..config import RelayConfig
    from ..smtp.aio import AsyncMailer
    from ..smtp.sync import Mailer

logger = logging.getLogger("acumbamail_smtp.outbox")

Outcome = SendResult | SendError


def _note_reclaimed(items: Sequence[QueuedMessage], report: DrainReport) -> None:
    for item in items:
        if item.reclaimed:
            report.ambiguous += 1
            logger.warning("message %s: taken over from a worker whose lease expired; it may have been "
                           "sent already (possible duplicate)", item.message_id)


def settle(outbox: Outbox, config: RelayConfig, item: QueuedMessage, outcome: Outcome,
           deadline: timedelta, report: DrainReport) -> None:
    """Mark ``item`` after one send: sent, for a retry (with backoff, within ``deadline``), or failed."""
    if isinstance(outcome, SendResult):
        outbox.mark_sent(item, outcome)
        report.sent += 1
        return
    if isinstance(outcome, ConnectionFailed) and outcome.ambiguous:
        report.ambiguous += 1
        logger.warning("message %s: connection lost after end-of-data, before the reply; it may have "
                       "been delivered and is sent again (possible duplicate)", item.message_id)
    # every recipient deferred at RCPT (4xx): a RecipientsRefused, but worth another try like any 4xx
    deferred = isinstance(outcome, RecipientsRefused) and only_deferred(outcome.result)
    retryable = isinstance(outcome, TransientError | ConnectionFailed) and is_retryable(
        outcome, ambiguous=True)
    if deferred or retryable:
        delay = backoff_delay(config, max(1, item.attempts))
        if datetime.now(UTC) + timedelta(seconds=delay) > item.created_at + deadline:
            outbox.mark_failed(item, f"gave up after {item.attempts} attempt(s): {outcome}",
                               reply_code=outcome.code)
            report.failed += 1
        else:
            outbox.mark_retry(item, str(outcome), delay)
            report.retried += 1
        return
    code = outcome.code
    if code is None and hasattr(outcome, "result") and outcome.result.reply is not None:
        code = outcome.result.reply.code
    outbox.mark_failed(item, str(outcome), reply_code=code)
    report.failed += 1


def _parent(item: QueuedMessage) -> str | None:
    """The trace parent stored with ``item`` by :meth:`Outbox.enqueue`, if any."""
    parent = (item.metadata or {}).get(TRACEPARENT_KEY)
    return parent if isinstance(parent, str) else None


def drain(outbox: Outbox, mailer: Mailer, *, batch: int = 100, lease: float = 60.0,
          worker: str | None = None, deadline: timedelta = timedelta(days=1),
          max_batches: int | None = None, stop: threading.Event | None = None) -> DrainReport:
    """Send every due message of ``outbox`` through ``mailer`` over one connection; what it did.

    Stops when nothing is due, after ``max_batches`` claims, when ``stop`` is set (checked between
    batches), or when the relay cannot be reached (the rest of that batch goes back to the queue
    with the backoff)."""
    report = DrainReport()
    who = worker or default_worker()
    batches = 0
    opened = False
    try:
        while (max_batches is None or batches < max_batches) and not (stop and stop.is_set()):
            items = outbox.claim(batch, worker=who, lease=lease)
            if not items:
                break
            batches += 1
            with _batch(items, report):
                if not opened:
                    try:
                        mailer.__enter__()
                        opened = True
                    except ConnectionFailed as exc:
                        _give_back(outbox, mailer.config, items, exc, deadline, report)
                        return report
                reachable = _send_all(outbox, mailer, items, deadline, report)
            if not reachable:
                return report
    finally:
        if opened:
            mailer.__exit__(None, None, None)
    return report


@contextlib.contextmanager
def _batch(items: Sequence[QueuedMessage], report: DrainReport) -> Iterator[None]:
    """One claimed batch's bookkeeping: expired leases counted as ambiguous, and one drain span
    with what the batch sent and failed."""
    _note_reclaimed(items, report)
    with telemetry.drain_span(len(items)) as span:
        before = (report.sent, report.failed)
        yield
        span.done(report.sent - before[0], report.failed - before[1])


def _send_all(outbox: Outbox, mailer: Mailer, items: Sequence[QueuedMessage], deadline: timedelta,
              report: DrainReport) -> bool:
    """Send the items pipelined over the one connection (:meth:`Mailer.send_each`) and mark each as
    soon as its reply is known; False when the relay became unreachable (the items not yet sent are
    given back)."""
    prepared = [item.prepared() for item in items]
    left = {id(p): item for p, item in zip(prepared, items, strict=True)}
    parents = {id(p): _parent(item) for p, item in zip(prepared, items, strict=True)}
    with contextlib.closing(mailer.send_each(prepared, parent=lambda p: parents.get(id(p)))) as outcomes:
        for sent, outcome in outcomes:
            item = left.pop(id(sent))
            settle(outbox, mailer.config, item, outcome, deadline, report)
            if isinstance(outcome, ConnectionFailed) and not outcome.ambiguous:
                _give_back(outbox, mailer.config, list(left.values()), outcome, deadline, report)
                return False
    return True


def _give_back(outbox: Outbox, config: RelayConfig, items: Sequence[QueuedMessage], exc: SendError,
               deadline: timedelta, report: DrainReport) -> None:
    """The relay is unreachable: the claimed ``items`` not tried go back (or fail past the deadline)."""
    for item in items:
        settle(outbox, config, item, exc, deadline, report)


async def adrain(outbox: Outbox, mailer: AsyncMailer, *, batch: int = 100, lease: float = 60.0,
                 worker: str | None = None, deadline: timedelta = timedelta(days=1),
                 max_batches: int | None = None) -> DrainReport:
    """:func:`drain` over ``mailer``'s pool: each batch is sent concurrently; the database calls
    run in a thread (``asyncio.to_thread``) so the event loop never blocks on them."""
    report = DrainReport()
    who = worker or default_worker()
    batches = 0
    marking = asyncio.Lock()

    async def one(item: QueuedMessage) -> Outcome:
        outcome: Outcome
        try:
            with telemetry.attach(_parent(item)):
                outcome = await mailer.send_prepared(item.prepared())
        except SendError as exc:
            outcome = exc
        # marked as soon as it is known, so a crash can resend at most the messages in flight;
        # one mark at a time (the report's counts are shared)
        async with marking:
            await asyncio.to_thread(settle, outbox, mailer.config, item, outcome, deadline, report)
        return outcome

    while max_batches is None or batches < max_batches:
        items = await asyncio.to_thread(outbox.claim, batch, worker=who, lease=lease)
        if not items:
            break
        batches += 1
        with _batch(items, report):
            outcomes = await asyncio.gather(*(one(item) for item in items))
        if any(isinstance(o, ConnectionFailed) and not o.ambiguous for o in outcomes):
            break  # the relay is unreachable: leave the rest for the next drain
    return report


__all__ = ["DrainReport", "adrain", "drain", "settle"]
