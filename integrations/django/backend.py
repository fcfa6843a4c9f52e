"""``EmailBackend``: a drop-in Django email backend that sends through Acumbamail's relay with the
core :class:`~acumbamail_smtp.Mailer` (one reused connection, verified TLS, retries, pipelining),
adds each message's category, skips suppressed recipients and records every send.

    EMAIL_BACKEND = "acumbamail_smtp.integrations.django.EmailBackend"

It takes the arguments of Django's SMTP backend (falling back to the ``EMAIL_*`` settings), or a
Django 6.1 ``MAILERS`` entry's ``OPTIONS``, plus ours (see :mod:`.conf`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

import django
from acumbamail_smtp.errors import AuthenticationError, ConnectionFailed, RecipientsRefused, SendError
from acumbamail_smtp.message.model import PreparedMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.policy import SyncConnection
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.sqlite import BatchedSendStore, EventStore
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

from . import conf
from .message import prepare_message
from .signals import CancelSend, post_send, pre_send, send_robust

logger = logging.getLogger("acumbamail_smtp.django")

#: Django 6.1 builds backends from ``settings.MAILERS`` and passes them ``alias``.
HAS_MAILERS = django.VERSION >= (6, 1)


class EmailBackend(BaseEmailBackend):
    """Sends Django messages through Acumbamail's SMTP relay.

    ``fail_silently`` hides failures to reach or talk to the relay (``send_messages`` then counts
    only what was sent); configuration errors (``ImproperlyConfigured``) and invalid messages
    (:class:`~acumbamail_smtp.InvalidMessage`) are always raised. Thread-safe: one lock, like
    Django's SMTP backend. Every sent message gets ``acumbamail_status`` (a SendResult).
    ``connection`` (not a setting; for subclasses such as
    :class:`~acumbamail_smtp.integrations.django.testing.TestEmailBackend`) replaces the SMTP
    exchange, see :class:`~acumbamail_smtp.smtp.SyncConnection`.
    """

    def __init__(self, host: str | None = None, port: int | None = None, username: str | None = None,
                 password: str | None = None, use_tls: bool | None = None, fail_silently: bool = False,
                 use_ssl: bool | None = None, timeout: float | None = None, ssl_keyfile: str | None = None,
                 ssl_certfile: str | None = None, *, default_category: str | None = None,
                 allow_insecure: bool | None = None, ca_file: str | None = None, max_tries: int | None = None,
                 local_hostname: str | None = None, chunking: bool | None = None,
                 chunking_window: int | None = None, max_reply_lines: int | None = None,
                 max_reply_line: int | None = None, max_reply_bytes: int | None = None,
                 reply_timeout: float | None = None, suppression: bool | None = None,
                 store: EventStore | str | None = None, connection: SyncConnection | None = None,
                 record_sends: bool = True, **kwargs: Any) -> None:
        if HAS_MAILERS:
            super().__init__(**kwargs)  # Django reports unknown OPTIONS with the mailer's alias
        else:
            if kwargs:
                names = ", ".join(repr(k) for k in kwargs)
                raise TypeError(f"{type(self).__module__}.EmailBackend() got unexpected keyword "
                                f"argument(s) {names}")
            super().__init__()
            self.alias: str | None = None
        self.fail_silently = bool(fail_silently)
        arguments = {
            "host": host, "port": port, "username": username, "password": password, "use_tls": use_tls,
            "use_ssl": use_ssl, "timeout": timeout, "ssl_keyfile": ssl_keyfile,
            "ssl_certfile": ssl_certfile, "default_category": default_category,
            "allow_insecure": allow_insecure, "ca_file": ca_file, "max_tries": max_tries,
            "local_hostname": local_hostname, "chunking": chunking, "chunking_window": chunking_window,
            "max_reply_lines": max_reply_lines, "max_reply_line": max_reply_line,
            "max_reply_bytes": max_reply_bytes, "reply_timeout": reply_timeout,
            "suppression": suppression, "store": store,
        }
        alias = getattr(self, "alias", None)
        where = f'MAILERS["{alias}"]["OPTIONS"]' if alias is not None else None
        self.config = conf.relay_config(arguments, alias)
        self.store = conf.event_store(arguments, where)
        self.suppression = conf.suppression(arguments, where, self.store)
        self.record_sends = record_sends
        self._batch = None if self.store is None else BatchedSendStore(self.store, self.suppression,
                                                                    record=record_sends)
        # The mailer sees the batch wrapper as its store (one suppression query, one record per batch).
        # ``connection`` replaces the SMTP exchange (TestEmailBackend records instead of sending).
        self._mailer = Mailer(self.config, store=self._batch, connection=connection)
        self._lock = threading.RLock()
        self._open = False
        # What Django's SMTP backend exposes (the password stays inside the config only).
        self.host = self.config.host
        self.port = self.config.port
        self.username = self.config.username
        self.use_tls = self.config.security == "starttls"
        self.use_ssl = self.config.security == "tls"
        self.timeout = self.config.timeout

    def __repr__(self) -> str:
        return (f"<EmailBackend {self.config.host}:{self.config.port} security={self.config.security} "
                f"user={self.config.username!r}>")

    # -- connection ----------------------------------------------------------------------------

    def open(self) -> bool | None:
        """Open the connection: True if opened now, False if it already was, None if opening
        failed and ``fail_silently`` hid it."""
        with self._lock:
            if self._open:
                return False
            try:
                self._mailer.__enter__()
            except SendError:
                if self.fail_silently:
                    logger.warning("could not connect to the relay (fail_silently)", exc_info=True)
                    return None
                raise
            self._open = True
            return True

    def close(self) -> None:
        """Close the connection (QUIT); safe to call twice, never raises."""
        with self._lock:
            if self._open:
                self._open = False
                self._mailer.__exit__(None, None, None)

    # -- sending -------------------------------------------------------------------------------

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send the messages over one connection; return how many the relay accepted (for at
        least one recipient). All are validated before the first is sent."""
        if not email_messages:
            return 0
        with self._lock:
            batch = self._prepare_all(email_messages)
            if not batch:
                return 0
            if self._batch is not None:
                self._batch.prefetch(r for _, prepared in batch for r in prepared.recipients)
            sent = 0
            try:
                opened = self.open()
                if opened is None:
                    return 0
                try:
                    for message, prepared in batch:
                        outcome = self._send(message, prepared)
                        if outcome is None:
                            break
                        sent += outcome
                finally:
                    if opened:
                        self.close()
            finally:
                if self._batch is not None:
                    self._batch.flush()
            return sent

    async def asend_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """``send_messages`` for async views: the relay is spoken to on the running event loop over
        its :class:`~acumbamail_smtp.AsyncMailer` pool (see :mod:`.aio`); preparing, ``pre_send``
        and ``post_send`` run in ``sync_to_async`` (project code may use the ORM)."""
        from asgiref.sync import sync_to_async

        from .aio import loop_mailer

        if not email_messages:
            return 0
        batch = await sync_to_async(self._prepare_all)(email_messages)
        mailer = loop_mailer(self.config, self.store, suppression=self.suppression,
                             record=self.record_sends)
        done: list[tuple[EmailMessage, SendResult]] = []
        sent = 0
        try:
            for message, prepared in batch:
                try:
                    done.append((message, await mailer.send_prepared(prepared)))
                    sent += 1
                except RecipientsRefused as exc:
                    done.append((message, exc.result))
                    if not self.fail_silently:
                        raise
                except SendError:
                    if not self.fail_silently:
                        raise
                    logger.warning("message %s not sent (fail_silently)", prepared.message_id, exc_info=True)
        finally:
            await sync_to_async(self._finish_all)(done)
        return sent

    def _finish_all(self, done: Sequence[tuple[EmailMessage, SendResult]]) -> None:
        for message, result in done:
            self._finish(message, result)

    def _prepare_all(self, messages: Iterable[EmailMessage]) -> list[tuple[EmailMessage, PreparedMessage]]:
        batch: list[tuple[EmailMessage, PreparedMessage]] = []
        for message in messages:
            message.acumbamail_status = None  # type: ignore[attr-defined]
            if not message.recipients():
                continue
            try:
                pre_send.send(type(self), message=message, backend=self)
            except CancelSend:
                logger.info("message to %s cancelled by a pre_send receiver", message.recipients())
                continue
            batch.append((message, prepare_message(message, self.config)))
        return batch

    def _send(self, message: EmailMessage, prepared: PreparedMessage) -> int | None:
        """1 if sent, 0 if not (failure hidden by ``fail_silently``), None when the batch cannot go
        on (the relay is unreachable or refuses our credentials)."""
        try:
            result = self._mailer.send_prepared(prepared)
        except RecipientsRefused as exc:
            self._finish(message, exc.result)
            if not self.fail_silently:
                raise
            return 0
        except (ConnectionFailed, AuthenticationError):
            if not self.fail_silently:
                raise
            logger.warning("message %s not sent (fail_silently)", prepared.message_id, exc_info=True)
            return None
        except SendError:
            if not self.fail_silently:
                raise
            logger.warning("message %s not sent (fail_silently)", prepared.message_id, exc_info=True)
            return 0
        self._finish(message, result)
        return 1

    def _finish(self, message: EmailMessage, result: SendResult) -> None:
        message.acumbamail_status = result  # type: ignore[attr-defined]
        send_robust(post_send, type(self), message=message, result=result, backend=self)
