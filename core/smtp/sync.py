"""The synchronous transport: :class:`Mailer` holds one ``smtplib`` connection and reuses it.

Only the I/O lives here: :class:`SMTPConnection` is the SMTP exchange for one prepared message
(``Mailer(connection=...)`` replaces it); suppression, retries, recording and batch errors are the
shared :class:`~acumbamail_smtp.smtp.policy.MailerPolicy`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import smtplib
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..config import RelayConfig
from ..errors import (
    AcumbamailError,
    ConnectionFailed,
    RecipientsRefused,
    SendError,
    TransientError,
)
from ..message import Message, PreparedMessage, prepare
from ..result import SendResult
from ..telemetry import hooks as telemetry
from . import protocol, stream
from .batch import Batch
from .client import _SMTP, _SMTP_SSL, login
from .policy import (
    RECORD_BATCH,
    MailerPolicy,
    SyncConnection,
    batch_error,
    local_hostname,
    must_reconnect,
    refused_text,
    starttls_missing,
    tracer,
)
from .reading import ReplyError, ReplyLimits, broken_reply
from .replies import CLOSING_CODES, error_for_reply, reply_text
from .stream import Outcome
from .tls import ResumingContext

if TYPE_CHECKING:
    from ..store.sqlite import SendStore

logger = logging.getLogger("acumbamail_smtp.transport")


def _tls_failure(exc: BaseException) -> bool:
    return isinstance(exc, ssl.SSLCertVerificationError | ssl.CertificateError)


class SMTPConnection:
    """One open, secured and authenticated SMTP connection to the relay."""

    def __init__(self, config: RelayConfig, *, tls: ResumingContext | None = None) -> None:
        self.config = config
        self._smtp: _SMTP | None = None
        self._tls = tls
        #: Whether the last TLS handshake resumed the session of an earlier connection (None: not
        #: TLS, or not opened yet).
        self.tls_resumed: bool | None = None

    @property
    def tls_context(self) -> ResumingContext:
        """The one TLS context of this connection's reconnects (made on first use), which keeps
        the last session for the next handshake; ``tls=`` shares a mailer's with it."""
        if self._tls is None:
            self._tls = ResumingContext.of(self.config)
        return self._tls

    @property
    def is_open(self) -> bool:
        return self._smtp is not None

    def open(self) -> None:
        """Connect, secure the connection as configured, and authenticate."""
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        self.tls_resumed = None
        context = self.tls_context if cfg.encrypted else None
        try:
            smtp: _SMTP
            limits = ReplyLimits.of(cfg)
            # Connection setup is exactly: banner, EHLO, [STARTTLS, handshake, EHLO], AUTH.
            if cfg.security == "tls":
                smtp = _SMTP_SSL(cfg.host, cfg.port, local_hostname=cfg.local_hostname or local_hostname(),
                                 timeout=cfg.timeout, context=context, limits=limits)
            else:
                smtp = _SMTP(cfg.host, cfg.port, local_hostname=cfg.local_hostname or local_hostname(),
                             timeout=cfg.timeout, limits=limits)
            try:
                smtp.ehlo_or_helo_if_needed()
                if cfg.security == "starttls":
                    if not smtp.has_extn("starttls"):
                        raise starttls_missing(where)
                    smtp.starttls(context=context)
                    smtp.ehlo()
                if context is not None:
                    assert isinstance(smtp.sock, ssl.SSLSocket)
                    self.tls_resumed = context.settle(smtp.sock, where)
                if cfg.username and cfg.password:
                    login(smtp, cfg)
            except BaseException:
                smtp.close()
                raise
        except AcumbamailError:
            raise
        except ReplyError as exc:
            raise broken_reply(where, exc) from exc
        except smtplib.SMTPResponseException as exc:
            raise error_for_reply("connection greeting", exc.smtp_code,
                                  reply_text(exc.smtp_error)) from exc
        except (ssl.SSLError, ssl.CertificateError) as exc:
            if context is not None:
                context.forget()  # the next try shakes hands in full
            raise ConnectionFailed(
                f"TLS with {where} failed: {exc}", retryable=not _tls_failure(exc)
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise ConnectionFailed(f"cannot connect to {where}: {exc}") from exc
        self._smtp = smtp

    def send(self, prepared: PreparedMessage) -> SendResult:
        """The SMTP exchange for one message: MAIL, RCPT for each recipient, DATA.

        Pipelined (RFC 2920) when the relay offers PIPELINING, as a stream of one message (with BDAT
        where CHUNKING is offered: one round trip), see :mod:`acumbamail_smtp.smtp.stream`; one
        command at a time otherwise (:func:`~acumbamail_smtp.smtp.protocol.exchange`). Refused
        recipients are reported in the result; a reply that refuses the whole message raises
        (``TransientError`` for 4xx, ``PermanentError`` for 5xx).
        """
        smtp = self._smtp
        if smtp is None:
            raise ConnectionFailed("connection is not open")
        if smtp.has_extn("pipelining"):
            handed = [prepared]
            return stream.only(list(self.stream(lambda: handed.pop() if handed else None)))
        try:
            options = protocol.mail_options(prepared, smtp.has_extn)
            sock = smtp.sock
            if sock is None:
                raise OSError("socket closed")
            trace = tracer()
            steps = protocol.exchange(prepared, options, pipelining=smtp.has_extn("pipelining"))
            try:
                result = protocol.run_sync(steps, sock, smtp.replies(), trace)
            except SendError as exc:
                self._reset_after(exc.code or 0)
                raise
            if result.status == "refused":
                self._reset_after(0)
            return result
        except AcumbamailError:
            raise
        except ReplyError as exc:
            self.discard()
            raise broken_reply(f"{self.config.host}:{self.config.port}", exc) from exc
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self.discard()
            raise ConnectionFailed(f"connection to the relay dropped: {exc}",
                                   ambiguous=isinstance(exc, protocol.LostAfterData)) from exc
        except BaseException:
            # Interrupted mid-transaction: never let the next message continue this one.
            self.discard()
            raise

    def stream(self, pull: Callable[[], PreparedMessage | None]) -> Iterator[Outcome]:
        """Send every message ``pull`` hands in, pipelined across messages where the relay offers
        PIPELINING (and with BDAT where it offers CHUNKING, see :mod:`~acumbamail_smtp.smtp.stream`),
        yielding each one's :class:`~acumbamail_smtp.smtp.stream.Outcome` as soon as it is known.
        The connection is dropped when the stream leaves it unusable."""
        smtp = self._smtp
        if smtp is None or smtp.sock is None:
            raise ConnectionFailed("connection is not open")
        if not smtp.has_extn("pipelining"):
            yield from lockstep(self, pull)
            return
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        steps = stream.stream(smtp.has_extn, chunking=cfg.chunking and smtp.has_extn("chunking"),
                              window=cfg.chunking_window)
        try:
            usable = yield from stream.drive(steps, smtp.sock.sendall, smtp.replies().read, pull,
                                             lambda exc: _lost(where, exc), tracer(),
                                             telemetry.emit_pending)
        except BaseException:
            self.discard()  # interrupted with messages on the wire: never reuse this connection
            raise
        if not usable:
            self.discard()

    def _reset_after(self, code: int) -> None:
        if code in CLOSING_CODES:
            self.discard()
            return
        smtp = self._smtp
        assert smtp is not None
        try:
            if smtp.sock is None:
                raise OSError("socket closed")
            protocol.command_sync(smtp.sock, smtp.replies(), b"RSET\r\n")
        except OSError:
            self.discard()

    def discard(self) -> None:
        """Drop the connection without QUIT (after a fault); never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with contextlib.suppress(OSError):
                smtp.close()

    def close(self) -> None:
        """Say QUIT and close; never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
        finally:
            smtp.close()


def _lost(where: str, exc: Exception) -> ConnectionFailed:
    if isinstance(exc, ReplyError):
        return broken_reply(where, exc)
    return ConnectionFailed(f"connection to the relay dropped: {exc}")


def lockstep(conn: SyncConnection, pull: Callable[[], PreparedMessage | None]) -> Iterator[Outcome]:
    """The stream of a connection that cannot pipeline: one :meth:`~SyncConnection.send` per
    message, its result or refusal as the outcome; ends when the connection closes."""
    while (prepared := pull()) is not None:
        try:
            yield Outcome(prepared, conn.send(prepared))
        except SendError as exc:
            yield Outcome(prepared, exc)
        if not conn.is_open:
            return


class Mailer(MailerPolicy):
    """Sends messages through one reused connection to the relay.

    Use it as a context manager to keep the connection open across sends; a send outside one
    opens and closes its own connection. Transient faults (4xx, a dropped connection) are
    retried with exponential backoff up to ``config.max_tries``; a connection lost in the middle
    of :meth:`send_many` is reopened and sending resumes at the first unacknowledged message.
    With a ``store``, suppressed recipients are skipped and every send is recorded.
    ``connection`` replaces the SMTP exchange (see :class:`~acumbamail_smtp.smtp.SyncConnection`,
    e.g. a :class:`~acumbamail_smtp.smtp.RecordingConnection` in tests); ``max_per_connection``
    reconnects after that many messages. Thread-safe: sends are serialized on the one connection.
    """

    def __init__(self, config: RelayConfig | None = None, *, store: SendStore | None = None,
                 connection: SyncConnection | None = None, max_per_connection: int | None = None) -> None:
        super().__init__(config, store, max_per_connection)
        self._conn: SyncConnection = connection if connection is not None else SMTPConnection(self.config)
        self._lock = threading.RLock()
        self._depth = 0

    # -- connection -------------------------------------------------------------------------
    @property
    def connection(self) -> SyncConnection:
        """The connection that performs the SMTP exchange (the one given, or the real one)."""
        return self._conn

    def open(self) -> bool:
        """Open the connection now; False if it was already open."""
        with self._lock:
            if self._conn.is_open:
                return False
            self._conn.open()
            self._opened(self._conn)
            return True

    def close(self) -> None:
        """Close the connection (QUIT); safe to call twice."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Mailer:
        with self._lock:
            self._depth += 1
            try:
                self.open()
            except BaseException:
                self._depth -= 1
                raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                self.close()

    # -- sending ----------------------------------------------------------------------------
    def send(self, message: Message) -> SendResult:
        """Send one message; raises :class:`RecipientsRefused` when no recipient accepted it."""
        return self.send_prepared(prepare(message, self.config))

    def send_many(self, messages: Iterable[Message]) -> list[SendResult]:
        """Send every message over one connection; one result per message, in order.

        All messages are validated before the first is sent. A message that no recipient accepted,
        or that the relay refused with a 5xx, gets a ``refused`` result instead of stopping the batch.
        Any other error stops the batch and is raised with ``results`` (see :func:`batch_error`).
        """
        prepared = [prepare(m, self.config) for m in messages]
        results: list[SendResult] = []
        for _ in self._deliver_all(prepared, results, len(prepared)):
            pass
        return results

    def iter_send(self, messages: Iterable[Message]) -> Iterator[SendResult]:
        """Send messages as the iterable yields them, yielding each result: constant memory."""
        return self._deliver_all(prepare(m, self.config) for m in messages)

    def send_each(self, prepared: Iterable[PreparedMessage], *,
                  parent: Callable[[PreparedMessage], str | None] | None = None,
                  ) -> Generator[tuple[PreparedMessage, SendResult | SendError], None, None]:
        """Send each message once, pipelined over the connection, and yield it with its outcome as
        soon as the relay's reply is known: the result, or the error :meth:`send_prepared` would
        raise (``RecipientsRefused`` when nobody accepted it). No retries and no stop: the caller
        decides, message by message (the outbox marks each). A message that never reached the relay
        goes again on a new connection; when the connection cannot be opened, the next message
        comes back with that error and the others wait (the caller may stop there). ``parent``
        gives a message's stored trace parent, for its span."""
        source = iter(prepared)
        again: deque[PreparedMessage] = deque()  # screened, never reached the relay
        flying: dict[int, tuple[PreparedMessage, telemetry.SendHandle]] = {}  # id(screened) -> ...
        ready: list[tuple[PreparedMessage, SendResult | SendError]] = []  # settled without the wire
        records: list[SendResult] = []

        def settle(screened: PreparedMessage, outcome: SendResult | SendError) -> None:
            original, scope = flying.pop(id(screened))
            if isinstance(outcome, SendResult):
                self._finish(screened, outcome, scope)
                records.append(outcome)
                if outcome.status == "refused":
                    outcome = RecipientsRefused(refused_text(outcome), result=outcome)
            scope.end(outcome if isinstance(outcome, SendError) else None)
            ready.append((original, outcome))

        def take() -> PreparedMessage | None:
            if again:
                return again.popleft()
            for raw in source:
                screened = raw
                if self.store is not None and raw.recipients:
                    screened = self._without(raw, self.store.suppressed(raw.recipients))
                with telemetry.attach(parent(raw) if parent else None):
                    flying[id(screened)] = (raw, telemetry.send_handle(screened))
                nobody = self._nobody_left(screened)
                if nobody is None:
                    return screened
                settle(screened, nobody)
            return None

        def pull() -> PreparedMessage | None:
            if self._spent(conn):
                return None
            item = take()
            if item is not None:
                self._carried_one(conn)
                flying[id(item)][1].tried(len(item.recipients) + 2)  # on the wire (again)
            return item

        try:
            with self._session(), self._lock:
                conn = self._conn
                while True:
                    if self._spent(conn):
                        conn.close()
                    if not conn.is_open:
                        item = take()
                        yield from ready
                        ready.clear()
                        if item is None:
                            return
                        try:
                            conn.open()
                        except SendError as exc:
                            settle(item, exc)
                            yield from ready
                            ready.clear()
                            continue
                        self._opened(conn)
                        again.appendleft(item)
                    streaming = getattr(conn, "stream", None)
                    for outcome in streaming(pull) if streaming is not None else lockstep(conn, pull):
                        if outcome.outcome is None:
                            again.append(outcome.prepared)
                        else:
                            settle(outcome.prepared, outcome.outcome)
                        if len(records) >= RECORD_BATCH:
                            self._record_now(records)
                            records = []
                        yield from ready
                        ready.clear()
                    yield from ready
                    ready.clear()
                    if not again and conn.is_open and not self._spent(conn):
                        return  # the stream ended with nothing left to take
        finally:
            self._record_now(records)
            for _original, scope in flying.values():
                scope.end(None)
            telemetry.batch_over()

    def send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Send a message already prepared (adapters that build their own MIME use this)."""
        with self._session():
            result = self._send_prepared(prepared)
        self._record_now([result])
        if result.status == "refused":
            raise RecipientsRefused(refused_text(result), result=result)
        return result

    def send_template(self, name: str, context: dict[str, Any], *, to: str | Sequence[str],
                      category: str | None = None, **fields: Any) -> SendResult:
        """Render template ``name`` with ``context`` (see :mod:`acumbamail_smtp.templates`) and send it."""
        from ..templates.renderer import render_message

        return self.send(render_message(name, context, to=to, category=category, **fields))

    # -- internals --------------------------------------------------------------------------
    def _session(self) -> _Session:
        return _Session(self)

    def _deliver_all(self, prepared: Iterable[PreparedMessage], kept: list[SendResult] | None = None,
                     size: int = 0) -> Iterator[SendResult]:
        """Send a batch through pipelined streams (see :class:`~acumbamail_smtp.smtp.batch.Batch`),
        yielding the results in order; ``kept`` collects them for a stopped batch's ``exc.results``."""
        batch = Batch(self, iter(prepared))
        try:
            with self._session(), self._lock:
                while not batch.finished:
                    for outcome in self._one_stream(batch):
                        batch.settle(outcome.prepared, outcome.outcome)
                        if len(batch.to_record) >= RECORD_BATCH:
                            self._record_now(batch.take_records())
                        for result in batch.release():
                            if kept is not None:
                                kept.append(result)
                            yield result
                    for result in batch.release():
                        if kept is not None:
                            kept.append(result)
                        yield result
                    if not batch.has_work() and (wait := batch.waiting()):
                        time.sleep(wait)  # only retries are left: wait for the first to be due
        finally:
            self._record_now(batch.take_records())
            telemetry.batch_over()
        if batch.stopped is not None:
            if kept is not None:
                batch_error(batch.stopped, [*kept, *batch.outcomes()], size)
            raise batch.stopped

    def _one_stream(self, batch: Batch) -> Iterator[Outcome]:
        """One stream of the batch on the connection, (re)opened first; an open that fails is
        the outcome of the next message (the retry policy judges it), and the next open waits
        for that message's backoff."""
        conn = self._conn
        if self._spent(conn):
            conn.close()
        if not conn.is_open:
            if not batch.has_work():
                return
            try:
                conn.open()
            except (TransientError, ConnectionFailed) as exc:
                if (item := self._next(batch)) is not None:
                    yield Outcome(item, exc)
                if (wait := batch.waiting()) is not None:
                    time.sleep(wait)
                return
            except BaseException as exc:
                if (item := self._next(batch)) is None:
                    raise
                batch.fail(item, exc)
                return
            self._opened(conn)

        def pull() -> PreparedMessage | None:
            if self._spent(conn):
                return None
            item = self._next(batch)
            if item is not None:
                self._carried_one(conn)
            return item

        streaming = getattr(conn, "stream", None)
        yield from streaming(pull) if streaming is not None else lockstep(conn, pull)

    def _next(self, batch: Batch) -> PreparedMessage | None:
        """The batch's next message for the wire: a retry that is due, else a new one screened for
        suppression; None when a retry must be waited for, or nothing is left."""
        item = batch.again()
        if item is not None:
            return item
        while (raw := batch.new()) is not None:
            screened = raw
            if self.store is not None and raw.recipients:
                screened = self._without(raw, self.store.suppressed(raw.recipients))
            if (item := batch.launch(raw, screened)) is not None:
                return item
        return None

    def _send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Suppression, then the tries (one span); the result is put on the message, not yet recorded."""
        with telemetry.send_span(prepared):
            if self.store is not None and prepared.recipients:
                prepared = self._without(prepared, self.store.suppressed(prepared.recipients))
            result = self._nobody_left(prepared) or self._with_retries(prepared)
            return self._finish(prepared, result)

    def _with_retries(self, prepared: PreparedMessage) -> SendResult:
        with self._lock:
            for attempt in itertools.count(1):
                step = self._settle(attempt, prepared, self._try_once(prepared))
                if isinstance(step, SendResult):
                    return step
                time.sleep(step)
        raise AssertionError("unreachable")

    def _try_once(self, prepared: PreparedMessage) -> SendResult | AcumbamailError:
        """One try on the connection (reopened when spent or closed); a retryable fault is returned."""
        conn = self._conn
        try:
            if self._spent(conn):
                conn.close()
            if not conn.is_open:
                conn.open()
                self._opened(conn)
            self._carried_one(conn)
            return conn.send(prepared)
        except (TransientError, ConnectionFailed) as exc:
            if must_reconnect(exc):
                conn.discard()
            return exc


class _Session:
    """Keeps the connection open for the duration of one call, unless it already was."""

    def __init__(self, mailer: Mailer) -> None:
        self.mailer = mailer
        self.opened = False

    def __enter__(self) -> None:
        self.opened = self.mailer._depth == 0

    def __exit__(self, *exc: object) -> None:
        if self.opened:
            self.mailer.close()


def resolve_host(host: str) -> None:
    """Raise :class:`ConnectionFailed` when ``host`` does not resolve (used by ``check``)."""
    try:
        socket.getaddrinfo(host, None)
    except OSError as exc:
        raise ConnectionFailed(f"cannot resolve {host}: {exc}") from exc
