"""The join rule (see :mod:`acumbamail_smtp.store.protocols`), written once for every store: the
batching, step 1 (by queue id) in Python over the sends of the batch's queue ids, the SQL of
step 2 (by recipient, within :data:`JOIN_SKEW`) and of the late join when a send is recorded
after its events. A store passes the two queries it runs; the SQL is plain text with
placeholders the store chooses (``?`` for ``sqlite3``, ``:name`` for SQLAlchemy)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..events import Event
from ..result import SendResult
from .common import CHUNK, chunks
from .schema import stored_message_id

#: How far after an event its send may have been recorded and still be joined by recipient
#: (step 2 of the join rule): the clock skew we tolerate between the sender and us.
JOIN_SKEW = timedelta(minutes=2)
#: Events per recipient-join query (four parameters each, under SQLite's oldest limit of 999).
JOIN_CHUNK = 240

#: A send joined to an event: ``(message_id, category)``; None when there is none.
Joined = tuple[str, str | None] | None
#: One event to join by recipient: ``(index in the batch, recipient, timestamp, latest sent_at)``.
Wanted = tuple[int, str, datetime, datetime]


def join_by_queue_id(events: Sequence[Event], rows: Iterable[Sequence[Any]]) -> list[Joined]:
    """Step 1 of the join rule for each event, from the ``(queue_id, recipient, message_id,
    category)`` rows of the sends carrying the events' queue ids, oldest row first: the latest
    send of that queue id to the same recipient, else its latest send to anyone; None when the
    queue id is unknown (or missing)."""
    latest: dict[str, tuple[str, str | None]] = {}
    latest_to: dict[tuple[str, str], tuple[str, str | None]] = {}
    for queue_id, recipient, message_id, category in rows:
        latest[queue_id] = latest_to[queue_id, recipient] = (message_id, category)
    return [None if not e.message_key or e.message_key not in latest
            else latest_to.get((e.message_key, e.recipient), latest[e.message_key]) for e in events]


def joined_events(events: Sequence[Event], joins: Sequence[Joined]) -> list[Event]:
    """``events`` with ``message_id`` and ``category`` filled in from their joined send, if any."""
    return [event if joined is None  # the constructor, not dataclasses.replace: half the time
            else Event(event.type, event.recipient, event.timestamp, event.message_key, event.url,
                       category=joined[1], message_id=joined[0], event_id=event.event_id, raw=event.raw)
            for event, joined in zip(events, joins, strict=True)]


def queue_keys(events: Sequence[Event]) -> list[str]:
    """The distinct queue ids (``message_key``) of ``events``, sorted: what step 1 looks up."""
    return sorted({e.message_key for e in events if e.message_key})


def join_sends(events: Sequence[Event],
               by_queue_id: Callable[[Sequence[str]], Iterable[Sequence[Any]]],
               by_recipient: Callable[[Sequence[Wanted]], Iterable[Sequence[Any]]] | None
               ) -> list[Joined]:
    """The send each event reports on. ``by_queue_id(keys)`` returns the ``(queue_id, recipient,
    message_id, category)`` rows of the sends of at most :data:`CHUNK` queue ids, oldest first;
    ``by_recipient(wanted)`` the ``(index, message_id, category)`` rows of step 2 (the SQL of
    :func:`recipient_join_sql`) for at most :data:`JOIN_CHUNK` events. Without ``by_recipient``
    only step 1 runs (the Django store joins by recipient after inserting)."""
    joins = join_by_queue_id(events, [row for keys in chunks(queue_keys(events), CHUNK)
                                      for row in by_queue_id(keys)])
    if by_recipient is None:
        return joins
    rest = [n for n, joined in enumerate(joins) if joined is None]
    for numbers in chunks(rest, JOIN_CHUNK):
        wanted = [(n, events[n].recipient, events[n].timestamp, events[n].timestamp + JOIN_SKEW)
                  for n in numbers]
        for n, message_id, category in by_recipient(wanted):
            joins[n] = (message_id, category)
    return joins


def recipient_join_sql(sends: str, rows: Sequence[str]) -> str:
    """Step 2 of the join rule for a batch: ``rows`` are the placeholder tuples of the wanted
    events (``(n, recipient, ts, late)`` each, in :data:`Wanted` order), ``sends`` the quoted
    table; the result rows are ``(n, message_id, category)``."""
    return (
        "WITH wanted (n, recipient, ts, late) AS (VALUES " + ", ".join(rows) + ")"  # noqa: S608
        f" SELECT wanted.n, s.message_id, s.category FROM wanted JOIN {sends} s ON s.id = COALESCE("
        f"(SELECT id FROM {sends} WHERE recipient = wanted.recipient AND status = 'sent'"
        " AND sent_at <= wanted.ts ORDER BY sent_at DESC, id DESC LIMIT 1),"
        f" (SELECT id FROM {sends} WHERE recipient = wanted.recipient AND status = 'sent'"
        " AND sent_at > wanted.ts AND sent_at <= wanted.late ORDER BY sent_at, id LIMIT 1))")


def late_join_sql(events: str) -> str:
    """The join of events stored before their send: run with each row of :func:`late_join_rows`."""
    return (f"UPDATE {events} SET message_id = :message_id, category = :category"  # noqa: S608
            " WHERE message_key = :queue_id AND message_id IS NULL")


def late_join_rows(results: Sequence[SendResult]) -> list[dict[str, Any]]:
    """The parameters of :func:`late_join_sql` for the results that carry a queue id."""
    return [{"message_id": stored_message_id(r.message_id), "category": r.category, "queue_id": r.queue_id}
            for r in results if r.queue_id]
