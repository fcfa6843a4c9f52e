"""A store as a mailer sees it during one batch: one suppression query and one write per batch."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence

from ..events import normalize_address
from ..result import SendResult
from .protocols import EventStore, SendStore

logger = logging.getLogger("acumbamail_smtp.store")


class BatchedSendStore:
    """A store as a mailer sees it during one batch: :meth:`prefetch` reads the suppression list once
    for every recipient of the batch, and sends are recorded in one transaction at :meth:`flush`,
    instead of one query and one commit per message. ``suppression=False`` skips the list;
    ``record=False`` records nothing (test modes: see :class:`SuppressionOnly`)."""

    def __init__(self, store: EventStore, suppression: bool = True, record: bool = True) -> None:
        self.store = store
        self.suppression = suppression
        self.record = record
        self.pending: list[SendResult] = []
        self._checked: set[str] = set()
        self._blocked: set[str] = set()

    def prefetch(self, addresses: Iterable[str]) -> None:
        """Read the suppression list once for ``addresses`` (the batch's recipients)."""
        if not self.suppression:
            return
        wanted = set(addresses)
        self._blocked = {normalize_address(a) for a in self.store.suppressed(wanted)}
        self._checked = {normalize_address(a) for a in wanted}

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        """The suppressed ones among ``addresses``, from the prefetched list when it covers them."""
        if not self.suppression:
            return set()
        given = list(addresses)
        keys = {a: normalize_address(a) for a in given}
        if all(key in self._checked for key in keys.values()):
            return {a for a, key in keys.items() if key in self._blocked}
        return self.store.suppressed(given)

    def record_sends(self, results: Sequence[SendResult]) -> None:
        """Buffer ``results`` until :meth:`flush`."""
        if self.record:
            self.pending.extend(results)

    def flush(self) -> None:
        """Record the sends buffered since the last flush; a failure is logged, never raised."""
        results, self.pending = self.pending, []
        self._checked, self._blocked = set(), set()
        if not results:
            return
        try:
            self.store.record_sends(results)
        except Exception:  # the mail is gone already: failing here would invite a resend
            logger.exception("could not record %d sent message(s) in the event store", len(results))


class GatedStore:
    """A store as a mailer sees it under two switches: the suppression list only with
    ``suppression``, the record only with ``record``. Stateless, so a shared async pool can hold
    it (:class:`BatchedSendStore` does the same per batch for the sync path)."""

    def __init__(self, store: SendStore, suppression: bool = True, record: bool = True) -> None:
        self.store = store
        self.suppression = suppression
        self.record = record

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        return self.store.suppressed(addresses) if self.suppression else set()

    def record_sends(self, results: Sequence[SendResult]) -> None:
        if self.record:
            self.store.record_sends(results)


class SuppressionOnly(GatedStore):
    """A store as every test mode's mailer sees it (Flask's ``TESTING``/``SUPPRESS_SEND``, FastAPI's
    ``RecordingMailer``, Django's ``TestEmailBackend``): the suppression list applies as for real,
    but nothing is recorded, because nothing was sent: the store and its reports only ever hold
    what the relay accepted."""

    def __init__(self, store: SendStore) -> None:
        super().__init__(store, suppression=True, record=False)


__all__ = ["BatchedSendStore", "GatedStore", "SuppressionOnly"]
