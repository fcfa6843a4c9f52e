"""Signals around sending and tracking (``django.dispatch.Signal``).

* ``pre_send(sender=backend class, message=, backend=)``: before a message is prepared. A receiver
  may change the message (its ``category``, headers...) or cancel it by raising
  :class:`CancelSend`: the message is then not sent, not counted, and its ``acumbamail_status``
  stays None. Any other exception propagates to the caller.
* ``post_send(sender=backend class, message=, result=, backend=)``: after the relay answered, with
  the core's :class:`~acumbamail_smtp.SendResult` (also for a message no recipient accepted).
  An exception in a receiver is logged (``django.dispatch``), never raised: the mail is gone
  already.
* ``send_failed(sender=DjangoOutboxBackend, message_id=, recipients=, reason=, queued=)``: when a
  queued message ends as failed (refused, or past the retry deadline); ``queued`` is its
  ``QueuedEmail`` row. From the worker, ``post_send`` fires (sender ``DjangoOutboxBackend``)
  with ``message=None`` (the Django object does not survive the queue) and the SendResult.
  Exceptions are logged.
* ``tracking(sender=AcumbamailConfig, event=)``: once for each new webhook event (duplicates are
  not signalled again), after it is stored. Exceptions are logged (``django.dispatch``).
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.dispatch import Signal

logger = logging.getLogger("acumbamail_smtp.django")

pre_send = Signal()
post_send = Signal()
tracking = Signal()
send_failed = Signal()


class CancelSend(Exception):
    """Raised by a ``pre_send`` receiver to skip the message."""


_dispatching = threading.local()


def send_robust(signal: Signal, sender: Any, **named: Any) -> None:
    """Send ``signal``; a receiver's exception is logged by Django (logger ``django.dispatch``),
    never raised. While a signal is being dispatched on a thread it is not dispatched again there:
    the error mail Django's ``AdminEmailHandler`` sends about a failing ``post_send`` receiver goes
    through this backend too, and must not fail and mail again, forever."""
    active: set[Signal] = _dispatching.__dict__.setdefault("signals", set())
    if signal in active:
        logger.debug("not dispatching %r again from inside its own receivers", signal)
        return
    active.add(signal)
    try:
        signal.send_robust(sender, **named)
    finally:
        active.discard(signal)
