"""The extension's blinker signals, in the Flask manner (one :class:`blinker.Namespace`).

All are sent with the Flask application as sender, so ``signal.connect(handler, app)`` listens
to one application only. ``email_dispatched`` sends exactly what Flask-Mail's does, so its
receivers work unchanged; ``message_sent`` adds the result.
"""

from __future__ import annotations

from blinker import Namespace

signals = Namespace()

email_dispatched = signals.signal("email-dispatched", doc="""\
Flask-Mail's signal: sent after a message was handed to the relay, or recorded instead when
sending is suppressed (``ACUMBAMAIL_SUPPRESS_SEND``), as ``send(app, message=message)`` exactly
like Flask-Mail. Not sent for a message no recipient accepted.""")

message_sent = signals.signal("acumbamail-message-sent", doc="""\
Sent right after ``email_dispatched``, with the outcome: ``sender`` is the app, with ``message=``
(what was passed to ``send``) and ``result=`` (its :class:`~acumbamail_smtp.SendResult`).""")

tracking_event = signals.signal("acumbamail-tracking-event", doc="""\
Sent for each new event the webhook endpoint stored (delivered, opened, clicked, bounced,
complained): ``sender`` is the app, with ``event=`` (an :class:`~acumbamail_smtp.Event` joined to
its send, so ``event.category`` and ``event.message_id`` are filled when known).""")

message_failed = signals.signal("acumbamail-message-failed", doc="""\
Sent by the outbox worker (``ACUMBAMAIL_OUTBOX``) when a queued message ends as failed (refused
for good, or still failing transiently past the outbox's deadline): ``sender`` is the app, with
``message=`` (subject, sender, recipients and ``msgId`` of the stored message) and ``error=`` (its
last :class:`~acumbamail_smtp.SendError`).""")
