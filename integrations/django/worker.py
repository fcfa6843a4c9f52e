"""The worker's one entry point, :func:`drain_from_settings`: drain the outbox with the project's
relay settings, recording each send in the event store and firing ``post_send`` as it goes.
``manage.py acumbamail_worker`` loops over it; the Django Tasks task runs it once."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import timedelta

from acumbamail_smtp.outbox import DrainReport, run_worker
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.store.protocols import SendStore

from . import conf
from .outbox import DjangoOutboxBackend, django_outbox, drain_outbox
from .signals import post_send, send_robust


class AnnouncingStore:
    """The worker's send store: the event store's suppression check (when on) and record, then
    ``post_send`` for each result (sender ``DjangoOutboxBackend``, ``message=None``: the Django
    object did not survive the queue)."""

    def __init__(self, store: SendStore | None, suppression: bool) -> None:
        self.store = store
        self.suppression = suppression

    def suppressed(self, addresses: Iterable[str]) -> set[str]:
        if self.store is None or not self.suppression:
            return set()
        return self.store.suppressed(addresses)

    def record_sends(self, results: Sequence[SendResult]) -> None:
        if self.store is not None:
            self.store.record_sends(results)
        for result in results:
            send_robust(post_send, DjangoOutboxBackend, message=None, result=result, backend=None)


def drain_from_settings(*, batch: int = 100, lease: float = 60.0, deadline: timedelta = timedelta(days=1),
                        max_batches: int | None = None) -> DrainReport:
    """Drain the due messages with ``EMAIL_*`` and ``ACUMBAMAIL`` settings (the ORM event store)."""
    store = conf.event_store()
    announcing = AnnouncingStore(store, conf.suppression(None, None, store))
    return drain_outbox(conf.relay_config({}), store=announcing, batch=batch, lease=lease, deadline=deadline,
                        max_batches=max_batches)


def run_forever(stop: threading.Event, *, poll: float = 1.0, batch: int = 100, lease: float = 60.0) -> int:
    """Drain, wait ``poll`` seconds, again, until ``stop`` is set (the core's
    :func:`~acumbamail_smtp.outbox.run_worker` on the ORM outbox); how many messages were sent."""
    store = conf.event_store()
    announcing = AnnouncingStore(store, conf.suppression(None, None, store))
    return run_worker(django_outbox(), conf.relay_config({}), store=announcing, stop=stop, poll=poll,
                      batch=batch, lease=lease).sent
