"""``ACUMBAMAIL_OUTBOX = True``: ``send()`` stores the message in the outbox and returns; the
worker (``flask acumbamail worker``) sends it and fires the signals then, in its own process."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from acumbamail_smtp.message.model import Message as CoreMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.settings import to_bool
from acumbamail_smtp.store.protocols import EventStore
from flask import Flask

from .mailers import worker_mailer
from .settings import SendSettings

if TYPE_CHECKING:  # the outbox is imported when it is used (ACUMBAMAIL_OUTBOX)
    from acumbamail_smtp.outbox import DrainReport, Outbox

OUTBOX_KEY = "ACUMBAMAIL_OUTBOX"


def outbox_enabled(config: Mapping[str, Any]) -> bool:
    """Whether ``ACUMBAMAIL_OUTBOX`` sends through the outbox (default False: inline)."""
    return to_bool(OUTBOX_KEY, config.get(OUTBOX_KEY) or False)


def enqueue(outbox: Outbox, messages: Sequence[CoreMessage], settings: SendSettings) -> list[SendResult]:
    """Store ``messages`` (validated now: InvalidMessage is raised before anything is stored);
    one ``queued`` result each, set on the core message too."""
    ids = outbox.enqueue(list(messages), config=settings.relay)
    category = settings.relay.default_category
    results = [SendResult(message_id=mid, status="queued", category=m.category or category)
               for mid, m in zip(ids, messages, strict=True)]
    for message, result in zip(messages, results, strict=True):
        message.send_result = result
    return results


def app_outbox(store: EventStore | None) -> Outbox:
    """The outbox in the app's event store (``ACUMBAMAIL_STORE``), which it needs."""
    if store is None:
        from acumbamail_smtp.errors import ConfigError

        raise ConfigError(OUTBOX_KEY, "the outbox lives in the event store: "
                                      "ACUMBAMAIL_STORE must not be False")
    from acumbamail_smtp.outbox import outbox_for

    return outbox_for(store)


def drain_app(app: Flask, settings: SendSettings, store: EventStore | None, *,
              batch: int = 100) -> DrainReport:
    """Send everything due in the app's outbox, signalling each outcome."""
    from acumbamail_smtp.outbox import drain

    from .worker import SignallingOutbox

    mailer = worker_mailer(app, settings, store)
    return drain(SignallingOutbox(app_outbox(store), mailer), mailer, batch=batch)


def work(app: Flask, settings: SendSettings, store: EventStore | None, *, poll: float = 1.0,
         stop: threading.Event | None = None) -> None:
    """Drain, wait ``poll`` seconds, again, until ``stop`` is set or SIGTERM/SIGINT arrives (the
    core's :func:`~acumbamail_smtp.outbox.run_worker` with the app's signalling mailer)."""
    from acumbamail_smtp.outbox import run_worker

    from .worker import SignallingOutbox

    with app.app_context():
        mailer = worker_mailer(app, settings, store)
        run_worker(SignallingOutbox(app_outbox(store), mailer), settings.relay, poll=poll, stop=stop,
                   mailer=mailer)
