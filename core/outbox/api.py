""":class:`Outbox`: enqueue prepared messages in a database, and the bookkeeping a worker does
around each send (claim under a lease, mark sent, retry later, give up). The database is an
:class:`~acumbamail_smtp.outbox.model.OutboxBackend`; :func:`outbox_for` picks the one of a store."""

from __future__ import annotations

import builtins
import json
import os
import socket
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import ConfigError
from ..message import Message, PreparedMessage, prepare
from ..message.prepare import MessageDefaults
from ..result import SendResult
from ..store.schema import stored_message_id
from .model import STATUSES, OutboxBackend, OutboxStats, QueuedMessage


def default_worker() -> str:
    """This process's name in the ``worker`` column: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None:
        raise ConfigError(name, "give an aware datetime (with a time zone)")
    return value.astimezone(UTC)


def outbox_row(prepared: PreparedMessage, *, send_after: datetime, priority: int,
               metadata: Mapping[str, Any] | None, now: datetime) -> dict[str, Any]:
    """The ``outbox`` row that stores ``prepared`` (shared by every backend, the Django one too)."""
    return {
        "message_id": stored_message_id(prepared.message_id), "sender": prepared.envelope_from,
        "recipients": list(prepared.recipients), "data": bytes(prepared.data),
        "smtputf8": int(prepared.smtputf8), "category": prepared.category,
        "metadata": dict(metadata) if metadata is not None else None, "priority": int(priority),
        "status": "queued", "attempts": 0, "send_after": send_after, "created_at": now,
        "lease_until": None, "worker": None, "last_error": None, "reply_code": None,
        "reply_text": None, "queue_id": None, "sent_at": None,
    }


class Outbox:
    """A durable queue of prepared messages in the application's database.

    :meth:`enqueue` validates and stores; workers (:func:`~acumbamail_smtp.outbox.drain`,
    :func:`~acumbamail_smtp.outbox.run_worker`) :meth:`claim` due messages under a lease, send
    them, and mark each sent, for a retry, or failed. ``config`` gives the default sender and
    category when :meth:`enqueue` is given none.
    """

    def __init__(self, backend: OutboxBackend, *, config: MessageDefaults | None = None) -> None:
        self.backend = backend
        self.config = config

    def __repr__(self) -> str:
        return f"Outbox({self.backend!r})"

    # -- the application's side ----------------------------------------------------------------

    def enqueue(self, message_or_messages: Message | PreparedMessage | Iterable[Message | PreparedMessage], *,
                config: MessageDefaults | None = None, send_after: datetime | None = None,
                priority: int = 0, metadata: Mapping[str, Any] | None = None,
                connection: Any = None) -> builtins.list[str]:
        """Validate and store messages for a worker; their Message-IDs, in order.

        Every message is prepared first, so an :class:`~acumbamail_smtp.InvalidMessage` leaves
        nothing stored. ``connection`` (a SQLAlchemy Connection or Session) joins the caller's
        transaction: a rollback removes the rows again, so nothing is sent.
        """
        if isinstance(message_or_messages, Message | PreparedMessage):
            given: builtins.list[Message | PreparedMessage] = [message_or_messages]
        else:
            given = list(message_or_messages)
        if isinstance(priority, bool) or not isinstance(priority, int):
            raise ConfigError("priority", f"must be an integer, got {priority!r}")
        if metadata is not None:
            json.dumps(dict(metadata))  # refused here (TypeError) rather than at the insert
        defaults = config if config is not None else self.config
        prepared = [m if isinstance(m, PreparedMessage) else prepare(m, defaults) for m in given]
        now = _now()
        due = _aware(send_after, "send_after") if send_after is not None else now
        rows = [outbox_row(p, send_after=due, priority=priority, metadata=metadata, now=now)
                for p in prepared]
        if rows:
            self.backend.insert(rows, connection=connection)
        return [p.message_id for p in prepared]

    # -- the worker's side ---------------------------------------------------------------------

    def claim(self, limit: int = 100, *, worker: str | None = None,
              lease: float = 60.0) -> builtins.list[QueuedMessage]:
        """Take up to ``limit`` due messages for ``worker`` for ``lease`` seconds (see the backend)."""
        if limit < 1 or lease <= 0:
            raise ConfigError("claim", "limit must be >= 1 and lease > 0")
        return self.backend.claim(limit, worker or default_worker(), float(lease), _now())

    def mark_sent(self, item: QueuedMessage, result: SendResult) -> None:
        """The relay accepted ``item``: keep its reply and queue id."""
        reply = result.reply
        self.backend.update(item.id, status="sent", lease_until=None, sent_at=result.sent_at,
                            reply_code=reply.code if reply else None,
                            reply_text=reply.text if reply else None,
                            queue_id=result.queue_id, last_error=None)

    def mark_retry(self, item: QueuedMessage, error_text: str, delay_seconds: float) -> None:
        """Put ``item`` back in the queue, due ``delay_seconds`` from now."""
        self.backend.update(item.id, status="queued", lease_until=None, last_error=error_text[:2000],
                            send_after=_now() + timedelta(seconds=max(0.0, delay_seconds)))

    def mark_failed(self, item: QueuedMessage, reason_text: str, *, reply_code: int | None = None) -> None:
        """Give up on ``item`` (a permanent refusal, or past the deadline) with the reason."""
        self.backend.update(item.id, status="failed", lease_until=None, last_error=reason_text[:2000],
                            reply_code=reply_code)

    # -- the operator's side ----------------------------------------------------------------

    def stats(self) -> OutboxStats:
        """Counts per status and the age of the oldest queued message."""
        return self.backend.stats(_now())

    def list(self, status: str | None = None, limit: int = 50) -> builtins.list[QueuedMessage]:
        """Up to ``limit`` messages (of ``status`` when given), oldest first."""
        if status is not None and status not in STATUSES:
            raise ConfigError("status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
        return self.backend.list(status, int(limit))

    def retry(self, message_ids: Iterable[str] | None = None) -> int:
        """Queue failed messages again (those with these Message-IDs; every failed one when None)."""
        ids = None if message_ids is None else [stored_message_id(m) for m in message_ids]
        return self.backend.retry(ids)

    def purge(self, status: str = "sent", older_than: datetime | timedelta | None = None) -> int:
        """Delete messages of ``status`` created before ``older_than`` (a time, or an age)."""
        if status not in STATUSES:
            raise ConfigError("status", f"must be one of {', '.join(STATUSES)}, got {status!r}")
        cutoff = _now() - older_than if isinstance(older_than, timedelta) else older_than
        return self.backend.purge(status, _aware(cutoff, "older_than") if cutoff is not None else None)


def outbox_for(store: Any, *, config: MessageDefaults | None = None) -> Outbox:
    """The :class:`Outbox` in ``store``'s database (a SQLite or SQLAlchemy event store, or a
    location as :func:`~acumbamail_smtp.store.open_store` takes it)."""
    if isinstance(store, str | os.PathLike):
        location = os.fspath(store)
        if "://" in location:
            from .sqlalchemy import SQLAlchemyOutboxBackend

            return Outbox(SQLAlchemyOutboxBackend(location), config=config)
        from .sqlite import SQLiteOutboxBackend

        return Outbox(SQLiteOutboxBackend(location), config=config)
    kind = type(store).__name__
    if kind == "SQLiteEventStore":
        from .sqlite import SQLiteOutboxBackend

        return Outbox(SQLiteOutboxBackend(store.path), config=config)
    if kind == "SQLAlchemyEventStore":
        from .sqlalchemy import SQLAlchemyOutboxBackend

        return Outbox(SQLAlchemyOutboxBackend(store.engine, schema=store.metadata.schema), config=config)
    raise ConfigError("store", f"no outbox backend for {kind}; give Outbox(backend) one")


__all__ = ["Outbox", "default_worker", "outbox_for", "outbox_row"]
