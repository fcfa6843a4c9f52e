"""``smtplib`` held to the reply limits and with AUTH redacted: the client of the synchronous
mailer and of ``check``.

:class:`_SMTP` replaces smtplib's reply reader with the bounded one of
:mod:`~acumbamail_smtp.smtp.reading` for the whole conversation (banner, EHLO, STARTTLS, AUTH and
then the pipelined exchange), and :func:`login` speaks AUTH itself (see
:mod:`~acumbamail_smtp.smtp.auth`) so that no frame of it holds the secret.
"""

from __future__ import annotations

import logging
import smtplib
from typing import Any

from ..config import RelayConfig
from ..result import Reply
from . import auth
from .policy import auth_missing, smtp_logger
from .reading import ReplyError, ReplyLimits, SocketReplies

__all__ = ["_SMTP", "_SMTP_SSL", "login"]

class _SMTP(smtplib.SMTP):
    """``smtplib`` that reads replies within the configured limits (connection setup included:
    banner, EHLO, STARTTLS, AUTH) and logs the conversation on ``acumbamail_smtp.smtp``, AUTH
    redacted (the commands and the relay's answers)."""

    _redact = False
    _limits = ReplyLimits()
    _replies: SocketReplies | None = None

    def __init__(self, *args: Any, limits: ReplyLimits | None = None, **kwargs: Any) -> None:
        if limits is not None:
            self._limits = limits
        # Set before connecting (smtplib connects in __init__), so the transcript has the banner.
        self.debuglevel = 1 if smtp_logger.isEnabledFor(logging.DEBUG) else 0
        super().__init__(*args, **kwargs)

    def _print_debug(self, *args: Any) -> None:
        if self._redact and args:
            args = (args[0], "<redacted during AUTH>")
        smtp_logger.debug(" ".join(str(a) for a in args))

    def replies(self) -> SocketReplies:
        """The bounded reader of the current socket (a new one after STARTTLS: nothing the relay
        sent before TLS is kept)."""
        if self.sock is None:
            raise smtplib.SMTPServerDisconnected("please run connect() first")
        if self._replies is None or self._replies.sock is not self.sock:
            self._replies = SocketReplies(self.sock, self._limits)
        return self._replies

    def getreply(self) -> tuple[int, bytes]:
        """smtplib's reply reader, replaced by the bounded one; closes the connection on a fault."""
        try:
            reply = self.replies().read()
        except ReplyError:
            self.close()
            raise
        except OSError as exc:
            self.close()
            raise smtplib.SMTPServerDisconnected(f"Connection unexpectedly closed: {exc}") from exc
        if self.debuglevel > 0:
            self._print_debug(f"reply: {reply.code}", repr(reply.text))
        return reply.code, reply.text.encode()


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):
    pass


def login(smtp: _SMTP, config: RelayConfig) -> None:
    """AUTH with ``config``'s credentials; :class:`AuthenticationError` (its text scrubbed of the
    secret) when refused. No frame here holds the secret: see :mod:`~acumbamail_smtp.smtp.auth`."""
    if not smtp.has_extn("auth"):
        raise auth_missing()
    steps = auth.exchange(config, auth.mechanism(smtp.esmtp_features.get("auth", "")))
    smtp._redact = True
    try:
        error = auth.refused(config, _authenticate(smtp, steps))
    finally:
        smtp._redact = False
    if error is not None:
        raise error


def _authenticate(smtp: _SMTP, steps: auth.AuthExchange) -> Reply:
    """Drive the AUTH conversation over ``smtp``; the relay's last answer."""
    answer: Reply | None = None
    while True:
        try:
            smtp.send(b" ".join(next(steps) if answer is None else steps.send(answer)) + b"\r\n")
        except StopIteration as stop:
            result: Reply = stop.value
            return result
        code, text = smtp.getreply()
        answer = Reply(code, text.decode("utf-8", "replace"))
