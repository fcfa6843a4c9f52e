"""The core mailers the extension sends with: inline (in the request) or, with the outbox, in the
worker, where each outcome fires the app's signals."""

from __future__ import annotations

from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from acumbamail_smtp.errors import PermanentError, RecipientsRefused
from acumbamail_smtp.message.model import PreparedMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.policy import RecordingConnection
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.batched import SuppressionOnly
from acumbamail_smtp.store.protocols import SendStore
from acumbamail_smtp.store.sqlite import EventStore
from flask import Flask

from .message import Message
from .settings import SendSettings
from .signals import email_dispatched, message_failed, message_sent


def mailer_for(settings: SendSettings, store: EventStore | None, *, app: Flask | None = None) -> Mailer:
    """The core mailer for these settings (a :class:`SignallingMailer` for ``app``'s worker): with
    sending suppressed, its connection is a :class:`~acumbamail_smtp.smtp.RecordingConnection`
    (nothing connects; no queue ids)."""
    target: SendStore | None = store
    connection = None
    if settings.suppress:
        target = SuppressionOnly(store) if store is not None else None
        connection = RecordingConnection(queue_ids=False)
    if app is not None:
        return SignallingMailer(app, settings, target, connection)
    return Mailer(settings.relay, store=target, connection=connection, max_per_connection=settings.max_emails)


def sent_message(prepared: PreparedMessage, result: SendResult | None = None) -> Message:
    """A Flask-Mail-style message standing for a queued one in the worker's signals: subject,
    sender and recipients from its stored headers and envelope, ``msgId`` and ``send_result``."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(prepared.data)
    message = Message(str(headers.get("Subject", "")), recipients=list(prepared.recipients),
                      sender=str(headers.get("From") or prepared.envelope_from), category=prepared.category)
    message.msgId = prepared.message_id
    message.send_result = result
    return message


class SignallingMailer(Mailer):
    """The worker's mailer: a message the relay took fires ``email_dispatched`` and
    ``message_sent``, one it refused for good fires ``message_failed``, all with the app as sender."""

    def __init__(self, app: Flask, settings: SendSettings, store: SendStore | None,
                 connection: RecordingConnection | None) -> None:
        super().__init__(settings.relay, store=store, connection=connection,
                         max_per_connection=settings.max_emails)
        self.app = app

    def send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Send, then signal the outcome (a transient failure is retried later: no signal yet)."""
        try:
            result = super().send_prepared(prepared)
        except (PermanentError, RecipientsRefused) as exc:
            refused = exc.result if isinstance(exc, RecipientsRefused) else None
            message_failed.send(self.app, message=sent_message(prepared, refused), error=exc)
            raise
        message = sent_message(prepared, result)
        email_dispatched.send(self.app, message=message)
        message_sent.send(self.app, message=message, result=result)
        return result
