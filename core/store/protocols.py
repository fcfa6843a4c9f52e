"""What a store is, as the rest of the library sees it: the records it returns and the protocols
a mailer (:class:`SendStore`), the webhook receiver (:class:`EventStore`) and the reports
(:class:`SQLStore`) rely on. No implementation lives here, so every module may import it.

The join rule, shared by every store (:mod:`acumbamail_smtp.store.join` holds it): an event is
joined to the send it reports on

1. by queue id: the send whose ``queue_id`` (the relay's "queued as <id>") equals the event's
   ``message_key`` (Acumbamail's ``email_key``), preferring the row of the same recipient;
2. else by recipient: that recipient's latest accepted send at or before the event's timestamp;
   when there is none, the earliest one at most ``JOIN_SKEW`` after it (the sender's clock
   may run a little behind ours, so a delivery can seem to precede its send).

The join fills the event's ``category`` and ``message_id``. When a send is recorded after its
events arrived (a fast webhook), the events carrying its queue id are joined then.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from ..events import Event, EventType
from ..result import SendResult


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One recipient of one sent message, as recorded by ``record_sends``."""

    recipient: str
    message_id: str
    queue_id: str | None
    category: str | None
    sent_at: datetime
    status: str
    reply_code: int | None = None
    reply_text: str | None = None


@dataclass(frozen=True, slots=True)
class StoreOutcome:
    """What ``store_events`` did: ``new`` events (joined to their send) and ``duplicates``
    (already stored under the same ``event_id``, left untouched)."""

    new: list[Event] = field(default_factory=list)
    duplicates: list[Event] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Suppression:
    """One suppressed address (normalized), why, since when, and the event that caused it."""

    address: str
    reason: str
    created_at: datetime
    event_id: str | None = None


class SendStore(Protocol):
    """What a mailer needs of a store: the suppression check before sending, and the record
    after. Every :class:`EventStore` is one; so is ``BatchedSendStore``."""

    def suppressed(self, addresses: Iterable[str]) -> set[str]: ...

    def record_sends(self, results: Sequence[SendResult]) -> None: ...


@runtime_checkable
class EventStore(Protocol):
    """What the mailer, the webhook receiver, suppression and reports need from a store.

    Every write is one transaction; addresses are matched case-insensitively (normalized by
    :func:`~acumbamail_smtp.events.normalize_address`). Events are joined to sends by the rule in
    this module's docstring.
    """

    def record_sends(self, results: Sequence[SendResult]) -> None:
        """Record one row per accepted, refused and suppressed recipient of each result."""

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        """Store ``events`` in one transaction, once per ``event_id``, joined to their sends."""

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        """The given addresses (as given) that are on the suppression list."""

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        """Put ``address`` on the list; False if it was there already (its entry is kept)."""

    def unsuppress(self, address: str) -> bool:
        """Take ``address`` off the list; False if it was not on it."""

    def suppressions(self) -> Iterator[Suppression]:
        """Every suppression, ordered by address."""

    def events(self, *, since: datetime | None = None, until: datetime | None = None,
               category: str | None = None, recipient: str | None = None,
               type: EventType | str | Iterable[EventType | str] | None = None) -> Iterator[Event]:
        """Stored events with ``since <= timestamp < until`` and the other filters, oldest first."""

    def sends(self, *, since: datetime | None = None, until: datetime | None = None,
              category: str | None = None, recipient: str | None = None,
              status: str | None = None) -> Iterator[SendRecord]:
        """Recorded sends with ``since <= sent_at < until`` and the other filters, oldest first."""

    def close(self) -> None:
        """Release the store's connections."""


@runtime_checkable
class SQLStore(Protocol):
    """What the reports need to run their SQL: the dialect it must be written in and one
    read-only query (``{sends}``, ``{events}``, ``{suppressions}`` name the tables, ``:name``
    marks a parameter). Every store of this package and the Django store are one."""

    @property
    def dialect(self) -> str: ...

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]: ...


__all__ = ["EventStore", "SQLStore", "SendRecord", "SendStore", "StoreOutcome", "Suppression"]
