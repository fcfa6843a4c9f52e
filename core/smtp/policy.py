"""The sending policy both mailers share, written once: everything around the SMTP exchange.

:class:`MailerPolicy` is the base of :class:`~acumbamail_smtp.Mailer` and
:class:`~acumbamail_smtp.AsyncMailer`; they add only the I/O (a blocking connection or a pool of
asyncio ones). The policy decides which recipients are suppressed (before any RCPT), whether a
fault is worth another try and how long to wait (:func:`retry_delay`), when a connection has
carried its ``max_per_connection`` messages, what is recorded in the store (batched), and how a
``send_many`` that stops reports the batch (:func:`batch_error`).

The exchange itself is replaceable: a mailer takes ``connection=``, any object with the shape of
:class:`SyncConnection` (or :class:`AsyncConnection`), such as :class:`RecordingConnection`.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import logging
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from ..config import RelayConfig
from ..errors import AcumbamailError, ConfigError, ConnectionFailed, PermanentError, SendError, TransientError
from ..message.model import PreparedMessage
from ..result import Reply, SendResult
from ..telemetry import hooks as telemetry
from .replies import CLOSING_CODES

if TYPE_CHECKING:
    from ..store.sqlite import SendStore

smtp_logger = logging.getLogger("acumbamail_smtp.smtp")
logger = logging.getLogger("acumbamail_smtp.transport")

#: How many send records are buffered before they are written to the store.
RECORD_BATCH = 200

#: The error put in ``exc.results`` for each message of a batch that was never tried.
BATCH_STOPPED = "not sent: the batch stopped at an earlier message"

Trace = Callable[[str, object], None]


# -- connections ----------------------------------------------------------------------------------


class SyncConnection(Protocol):
    """What :class:`~acumbamail_smtp.Mailer` needs of a connection: the SMTP exchange for one
    prepared message, and its lifecycle. :class:`~acumbamail_smtp.smtp.sync.SMTPConnection` is the
    real one; pass another as ``Mailer(config, connection=...)`` to replace the network step."""

    @property
    def is_open(self) -> bool: ...

    def open(self) -> None:
        """Connect (and secure, and authenticate); raise a :class:`SendError` when it cannot."""

    def send(self, prepared: PreparedMessage) -> SendResult:
        """Send one message whose recipients are already filtered; raise for a refused message."""

    def discard(self) -> None:
        """Drop the connection without a goodbye (after a fault); never raises."""

    def close(self) -> None:
        """Say goodbye and close; never raises."""


class AsyncConnection(Protocol):
    """The asyncio twin of :class:`SyncConnection`, for ``AsyncMailer(config, connection=...)``."""

    @property
    def is_open(self) -> bool: ...

    async def open(self) -> None:
        """Connect (and secure, and authenticate); raise a :class:`SendError` when it cannot."""

    async def send(self, prepared: PreparedMessage) -> SendResult:
        """Send one message whose recipients are already filtered; raise for a refused message."""

    def discard(self) -> None:
        """Drop the connection without a goodbye (after a fault); never raises."""

    async def close(self) -> None:
        """Say goodbye and close; never raises."""


_recorded_ids = itertools.count(1)


class RecordingConnection:
    """A connection that sends nothing: it keeps each prepared message in ``prepared`` and answers
    as a relay that accepted every recipient, with a made-up queue id (``queue_ids=False``: no
    reply at all). The mailer's policy still applies around it: suppression, the result on the
    message, ``RecipientsRefused``, recording in the store. For tests: ``Mailer(config,
    connection=RecordingConnection())``; :class:`AsyncRecordingConnection` for the AsyncMailer."""

    def __init__(self, *, queue_ids: bool = True) -> None:
        self.queue_ids = queue_ids
        self.prepared: list[PreparedMessage] = []
        self.is_open = False

    def record(self, prepared: PreparedMessage) -> SendResult:
        """Keep ``prepared`` and return the result a relay accepting everyone would give."""
        self.prepared.append(prepared)
        reply = Reply(250, f"2.0.0 Ok: queued as RECORDED{next(_recorded_ids)}") if self.queue_ids else None
        accepted, suppressed = list(prepared.recipients), list(prepared.suppressed)
        return SendResult(prepared.message_id, SendResult.status_for(accepted, {}, suppressed), accepted,
                          suppressed=suppressed, reply=reply, category=prepared.category)

    def open(self) -> None:
        """Nothing to connect to."""
        self.is_open = True

    def send(self, prepared: PreparedMessage) -> SendResult:
        """Record instead of sending."""
        return self.record(prepared)

    def discard(self) -> None:
        """Nothing to drop."""
        self.is_open = False

    def close(self) -> None:
        """Nothing to close; the records stay."""
        self.is_open = False


class AsyncRecordingConnection:
    """:class:`RecordingConnection` for the AsyncMailer: ``prepared`` lists what was 'sent'."""

    def __init__(self, *, queue_ids: bool = True) -> None:
        self.recorder = RecordingConnection(queue_ids=queue_ids)
        self.prepared = self.recorder.prepared

    @property
    def is_open(self) -> bool:
        return self.recorder.is_open

    async def open(self) -> None:
        """Nothing to connect to."""
        self.recorder.open()

    async def send(self, prepared: PreparedMessage) -> SendResult:
        """Record instead of sending."""
        return self.recorder.record(prepared)

    def discard(self) -> None:
        """Nothing to drop."""
        self.recorder.discard()

    async def close(self) -> None:
        """Nothing to close; the records stay."""
        self.recorder.close()


# -- the retry decision ---------------------------------------------------------------------------


@functools.cache
def local_hostname() -> str:
    """This host's name for EHLO, looked up once per process (``socket.getfqdn`` can be slow)."""
    return socket.getfqdn()


def backoff_delay(config: RelayConfig, attempt: int) -> float:
    """Seconds to wait before try ``attempt + 1``: exponential, capped."""
    return float(min(config.retry_backoff * (2 ** (attempt - 1)), config.retry_backoff_max))


def is_retryable(exc: AcumbamailError, *, ambiguous: bool = False) -> bool:
    """Whether another try may succeed: a 4xx reply or a dropped/unreachable connection, but not
    a connection lost after the message's data and before its reply (``exc.ambiguous``): the relay
    may have it, and a second try could deliver it twice, so the mailers report it instead. The
    outbox, which promises delivery at least once, passes ``ambiguous=True`` and counts it."""
    if isinstance(exc, TransientError):
        return True
    return isinstance(exc, ConnectionFailed) and exc.retryable and (ambiguous or not exc.ambiguous)


def only_deferred(result: SendResult) -> bool:
    """Whether no recipient was accepted and every refusal was temporary (4xx): worth another try."""
    return (result.status == "refused" and bool(result.refused)
            and all(400 <= reply.code < 500 for reply in result.refused.values()))


def retry_delay(config: RelayConfig, attempt: int, message_id: str,
                outcome: SendResult | AcumbamailError) -> float | None:
    """Seconds to wait before trying again after ``outcome`` of try ``attempt``, or None when the
    outcome is final (return the result, raise the error). Logs each retry."""
    if attempt >= config.max_tries:
        return None
    if isinstance(outcome, SendResult):
        if not only_deferred(outcome):
            return None
        why = "every recipient deferred (4xx)"
    elif is_retryable(outcome):
        why = str(outcome)
    else:
        return None
    delay = backoff_delay(config, attempt)
    logger.warning("message %s: %s; try %d of %d in %.2fs", message_id, why, attempt + 1,
                   config.max_tries, delay)
    return delay


def must_reconnect(exc: AcumbamailError) -> bool:
    """Whether the connection is unusable after ``exc`` (dropped, or 421 closing)."""
    return isinstance(exc, ConnectionFailed) or (
        isinstance(exc, TransientError) and exc.code in CLOSING_CODES
    )


# -- the shared texts -----------------------------------------------------------------------------


def starttls_missing(where: str) -> ConnectionFailed:
    """The error for a relay that does not offer the STARTTLS this configuration requires."""
    return ConnectionFailed(f"relay {where} does not offer STARTTLS, which this configuration requires "
                            "(use the implicit TLS port 465 or 2525 with security='tls')", retryable=False)


def auth_missing() -> PermanentError:
    """The error for a relay that offers no AUTH where credentials are configured."""
    return PermanentError("relay does not offer AUTH on this connection (it may require TLS first)")


def trace(label: str, value: object) -> None:
    """Log one write or reply of the exchange on ``acumbamail_smtp.smtp`` (DEBUG)."""
    smtp_logger.debug("%s %r", label, value)


def tracer() -> Trace | None:
    """:func:`trace` when DEBUG logging of the conversation is on, else None (no cost); with
    OpenTelemetry on, also each write and reply as an event on the send's span."""
    return telemetry.exchange_trace(trace if smtp_logger.isEnabledFor(logging.DEBUG) else None)


def refused_text(result: SendResult) -> str:
    """The text of :class:`RecipientsRefused`: each recipient and why it was not accepted."""
    parts = [f"{addr}: {reply}" for addr, reply in result.refused.items()]
    parts += [f"{addr}: suppressed" for addr in result.suppressed]
    return "no recipient accepted the message (" + "; ".join(parts or ["no recipients"]) + ")"


def refused_result(prepared: PreparedMessage, exc: SendError) -> SendResult:
    """The ``refused`` result that stands for a message the relay refused as a whole (5xx)."""
    reply = Reply(exc.code or 554, exc.text or str(exc))
    result = SendResult(prepared.message_id, "refused", [], dict.fromkeys(prepared.recipients, reply),
                        list(prepared.suppressed), reply, prepared.category)
    if prepared.source is not None:
        prepared.source.send_result = result
    return result


def batch_error(exc: BaseException, outcomes: Sequence[SendResult | BaseException], size: int) -> None:
    """Give the error that stopped a ``send_many`` its ``results``, the same for both mailers:
    one entry per message of the batch, in order: the SendResult of each message sent or refused,
    the exception of each that failed, and ``SendError(BATCH_STOPPED)`` for each never tried."""
    if isinstance(exc, SendError):
        exc.results = [*outcomes, *(SendError(BATCH_STOPPED) for _ in range(size - len(outcomes)))]


# -- the policy -----------------------------------------------------------------------------------


class MailerPolicy:
    """What both mailers do around the exchange; subclasses supply the I/O.

    ``store`` is checked for suppressed recipients and records every send; ``max_per_connection``
    makes a connection close (and the next send open a fresh one) after that many messages.
    """

    def __init__(self, config: RelayConfig | None, store: SendStore | None,
                 max_per_connection: int | None) -> None:
        if max_per_connection is not None and (isinstance(max_per_connection, bool)
                                               or not isinstance(max_per_connection, int)
                                               or max_per_connection < 1):
            raise ConfigError("max_per_connection", f"must be an integer >= 1, got {max_per_connection!r}")
        self.config = config if config is not None else RelayConfig.from_env()
        self.store = store
        self.max_per_connection = max_per_connection
        self._carried: dict[int, int] = {}

    def _without(self, prepared: PreparedMessage, blocked: set[str]) -> PreparedMessage:
        """``prepared`` with the ``blocked`` (suppressed) recipients moved out of the envelope."""
        if not blocked:
            return prepared
        lowered = {b.lower() for b in blocked}
        return dataclasses.replace(
            prepared,
            recipients=[r for r in prepared.recipients if r.lower() not in lowered],
            suppressed=[r for r in prepared.recipients if r.lower() in lowered],
        )

    @staticmethod
    def _nobody_left(prepared: PreparedMessage) -> SendResult | None:
        """The ``refused`` result for a message every recipient of which is suppressed."""
        if prepared.recipients:
            return None
        return SendResult(prepared.message_id, "refused", suppressed=list(prepared.suppressed),
                          category=prepared.category)

    @staticmethod
    def _finish(prepared: PreparedMessage, result: SendResult,
                scope: telemetry.SendHandle | None = None) -> SendResult:
        """Put ``result`` on the message (``message.send_result``), count it (on ``scope``, else
        the running send's span) and log it."""
        if prepared.source is not None:
            prepared.source.send_result = result
        if scope is None:
            telemetry.finished(result)
        else:
            scope.finish(result)
        logger.debug("message %s: %s (queue id %s)", result.message_id, result.status, result.queue_id)
        return result

    def _spent(self, conn: object) -> bool:
        """Whether ``conn`` has carried ``max_per_connection`` messages and must be closed first."""
        limit = self.max_per_connection
        return limit is not None and self._carried.get(id(conn), 0) >= limit

    def _opened(self, conn: object) -> None:
        """Start counting the messages of a freshly opened ``conn`` (and count the connection)."""
        telemetry.opened(self.config)
        if self.max_per_connection is not None:
            self._carried[id(conn)] = 0

    def _carried_one(self, conn: object) -> None:
        """Count one message tried on ``conn``."""
        if self.max_per_connection is not None:
            self._carried[id(conn)] = self._carried.get(id(conn), 0) + 1

    def _forget(self, conn: object) -> None:
        """Stop counting for ``conn``, which leaves the mailer (so the counts do not grow)."""
        self._carried.pop(id(conn), None)

    def _settle(self, attempt: int, prepared: PreparedMessage,
                outcome: SendResult | AcumbamailError) -> SendResult | float:
        """After try ``attempt``: the final result (a final error is raised), or the seconds to
        wait before the next try."""
        delay = retry_delay(self.config, attempt, prepared.message_id, outcome)
        if delay is not None:
            telemetry.retried(attempt, delay, outcome)
            return delay
        if isinstance(outcome, SendResult):
            return outcome
        raise outcome

    def _record_now(self, results: list[SendResult]) -> None:
        """Write ``results`` to the store; a store failure is logged, never raised."""
        if self.store is None or not results:
            return
        try:
            self.store.record_sends(results)
        except Exception:
            # The mail is gone already: failing here would invite a duplicate resend.
            logger.exception("could not record %d sent message(s) in the event store", len(results))
