"""The outbox's records and the backend protocol: what a queued message is, what the counts are,
what a drain did, and what a database must offer to hold an outbox (SQLite, SQLAlchemy, Django).

No database code lives here, so every backend (and the Django adapter's) may import it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ..message.model import PreparedMessage

#: The states of an outbox row: waiting, claimed by a worker, delivered, given up.
OutboxStatus = Literal["queued", "in_flight", "sent", "failed"]
STATUSES: tuple[str, ...] = ("queued", "in_flight", "sent", "failed")


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    """One row of the outbox: the envelope and bookkeeping; :meth:`prepared` rebuilds what is sent.

    ``reclaimed`` is True when :meth:`Outbox.claim` took it from a worker whose lease expired (that
    worker may have sent it before it died: a possible duplicate, counted as ambiguous).
    """

    id: int
    message_id: str
    sender: str
    recipients: list[str]
    category: str | None
    priority: int
    status: str
    attempts: int
    send_after: datetime
    created_at: datetime
    last_error: str | None = None
    queue_id: str | None = None
    data: bytes = field(default=b"", repr=False)
    smtputf8: bool = False
    metadata: dict[str, Any] | None = None
    reclaimed: bool = False

    def prepared(self) -> PreparedMessage:
        """The message as the mailers send it (no source ``Message``: it lives in another process)."""
        return PreparedMessage(None, self.sender, list(self.recipients), self.data, self.message_id,
                               self.category, self.smtputf8)


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """How many rows are in each state, and the age in seconds of the oldest queued one."""

    queued: int = 0
    in_flight: int = 0
    failed: int = 0
    sent: int = 0
    oldest_queued_age: float | None = None


@dataclass(slots=True)
class DrainReport:
    """What one drain did: messages sent, put back for a retry, given up, and ambiguous (possibly
    delivered twice: the connection was lost after end-of-data, or a dead worker's lease expired)."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    ambiguous: int = 0

    def add(self, other: DrainReport) -> None:
        """Add ``other``'s counts to these."""
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.ambiguous += other.ambiguous


class OutboxBackend(Protocol):
    """What :class:`~acumbamail_smtp.outbox.Outbox` needs of a database. Times are aware UTC
    datetimes; ``rows`` are mappings of the ``outbox`` columns of the schema spec (no ``id``)."""

    def insert(self, rows: Sequence[Mapping[str, Any]], connection: Any = None) -> None:
        """Store ``rows`` in one transaction (the caller's, when ``connection`` is given)."""

    def claim(self, limit: int, worker: str, lease: float, now: datetime) -> list[QueuedMessage]:
        """Atomically take up to ``limit`` due rows (queued with ``send_after <= now``, or
        in_flight with ``lease_until <= now``), highest priority then oldest first: mark them
        in_flight with ``lease_until = now + lease``, ``worker``, ``attempts + 1``."""

    def update(self, id: int, **fields: Any) -> None:
        """Set ``fields`` (column names) on the row ``id``."""

    def stats(self, now: datetime) -> OutboxStats:
        """The counts per status and the oldest queued row's age at ``now``."""

    def list(self, status: str | None, limit: int) -> list[QueuedMessage]:
        """Up to ``limit`` rows (of ``status`` when given), oldest first."""

    def retry(self, ids: Sequence[str] | None) -> int:
        """Put failed rows (those with these Message-IDs; all when None) back to queued, due now."""

    def purge(self, status: str, older_than: datetime | None) -> int:
        """Delete rows of ``status`` (created before ``older_than`` when given); how many."""


__all__ = ["STATUSES", "DrainReport", "OutboxBackend", "OutboxStats", "OutboxStatus", "QueuedMessage"]
