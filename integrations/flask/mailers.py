"""The core mailers the extension sends with: inline (in the request) or, with the outbox, in the
worker, where each outcome fires the app's signals."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator, Iterable
from email.parser import BytesHeaderParser
from email.policy import default as default_policy

from acumbamail_smtp.errors import ConnectionFailed, RecipientsRefused, SendError
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


def _target(settings: SendSettings,
            store: EventStore | None) -> tuple[SendStore | None, RecordingConnection | None]:
    """The store and connection a mailer gets: with sending suppressed, a
    :class:`~acumbamail_smtp.smtp.RecordingConnection` (nothing connects; no queue ids) and a
    store that checks suppression but records nothing."""
    if settings.suppress:
        return (SuppressionOnly(store) if store is not None else None), RecordingConnection(queue_ids=False)
    return store, None


def mailer_for(settings: SendSettings, store: EventStore | None) -> Mailer:
    """The core mailer for these settings, for inline sends (the worker's is :func:`worker_mailer`)."""
    target, connection = _target(settings, store)
    return Mailer(settings.relay, store=target, connection=connection, max_per_connection=settings.max_emails)


def worker_mailer(app: Flask, settings: SendSettings, store: EventStore | None) -> SignallingMailer:
    """The outbox worker's mailer for ``app``: sends as :func:`mailer_for` does, once per claim
    (the outbox retries, with its backoff and deadline), and signals."""
    target, connection = _target(settings, store)
    once = dataclasses.replace(settings, relay=dataclasses.replace(settings.relay, max_tries=1))
    return SignallingMailer(app, once, target, connection)


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
    ``message_sent``, with the app as sender. A failure is kept in :attr:`errors` (by Message-ID)
    for :class:`~.worker.SignallingOutbox`, which fires ``message_failed`` once the outbox gives
    up on the message: refused for good now, or transient until its deadline passed."""

    def __init__(self, app: Flask, settings: SendSettings, store: SendStore | None,
                 connection: RecordingConnection | None) -> None:
        super().__init__(settings.relay, store=store, connection=connection,
                         max_per_connection=settings.max_emails)
        self.app = app
        self.errors: dict[str, SendError] = {}

    def send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Send, then signal success; keep the error of a failure for the outbox's verdict."""
        try:
            result = super().send_prepared(prepared)
        except SendError as exc:
            self._settled(prepared, exc)
            raise
        self._settled(prepared, result)
        return result

    def send_each(self, prepared: Iterable[PreparedMessage], *,
                  parent: Callable[[PreparedMessage], str | None] | None = None,
                  ) -> Generator[tuple[PreparedMessage, SendResult | SendError], None, None]:
        """The core's pipelined :meth:`~acumbamail_smtp.Mailer.send_each` (the outbox drain's),
        each outcome signalled as :meth:`send_prepared` does."""
        for sent, outcome in super().send_each(prepared, parent=parent):
            self._settled(sent, outcome)
            yield sent, outcome

    def _settled(self, prepared: PreparedMessage, outcome: SendResult | SendError) -> None:
        if isinstance(outcome, SendError):
            self.errors[prepared.message_id] = outcome
            return
        self.errors.pop(prepared.message_id, None)
        message = sent_message(prepared, outcome)
        email_dispatched.send(self.app, message=message)
        message_sent.send(self.app, message=message, result=outcome)

    def signal_failed(self, prepared: PreparedMessage, reason: str) -> None:
        """Fire ``message_failed`` for a message given up on: ``error=`` is its last send error
        (a fresh :class:`~acumbamail_smtp.ConnectionFailed` with ``reason`` when the relay
        could not be reached at all), ``message.send_result`` the refusal's result if any."""
        error = self.errors.pop(prepared.message_id, None) or ConnectionFailed(reason)
        refused = error.result if isinstance(error, RecipientsRefused) else None
        message_failed.send(self.app, message=sent_message(prepared, refused), error=error)
