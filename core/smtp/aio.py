"""The asynchronous transport: :class:`AsyncMailer` keeps a pool of reused ``aiosmtplib`` connections.

Only the I/O lives here: :class:`AsyncSMTPConnection` is the exchange for one message, the async
twin of :class:`~acumbamail_smtp.smtp.sync.SMTPConnection` (``AsyncMailer(connection=...)``
replaces it); suppression, retries, recording and batch errors are the shared
:class:`~acumbamail_smtp.smtp.policy.MailerPolicy`.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiosmtplib

from .. import errors
from ..config import RelayConfig
from ..message import Message, PreparedMessage, prepare
from ..result import Reply, SendResult
from ..telemetry import hooks as telemetry
from . import aio_protocol, auth, policy, protocol, reading, stream
from .batch import Batch
from .policy import AsyncConnection, MailerPolicy, smtp_logger
from .replies import CLOSING_CODES, error_for_reply
from .tls import ResumingContext

if TYPE_CHECKING:
    from ..store.sqlite import SendStore


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _setup_error(where: str, exc: BaseException) -> BaseException:
    """The library's error for ``exc``, raised while connecting to the relay at ``where``
    (``exc`` itself when it is none of the relay's doing, e.g. a cancellation)."""
    tls = _tls_cause(exc)
    if tls is not None:
        return errors.ConnectionFailed(f"TLS with {where} failed: {tls}",
                                       retryable=not isinstance(tls, ssl.SSLCertVerificationError))
    if isinstance(exc, reading.ReplyError):
        return reading.broken_reply(where, exc)
    if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
        exc, aiosmtplib.SMTPServerDisconnected
    ):
        if exc.code < 100:  # aiosmtplib's own "Response too long" / "Malformed SMTP response line"
            return reading.broken_reply(where, reading.ReplyError(exc.message))
        return error_for_reply("connection setup", exc.code, exc.message)
    if isinstance(exc, aiosmtplib.SMTPException | OSError | asyncio.TimeoutError):
        return errors.ConnectionFailed(f"cannot connect to {where}: {exc}")
    return exc


async def _login(smtp: aiosmtplib.SMTP, config: RelayConfig, limits: reading.ReplyLimits) -> None:
    """AUTH with ``config``'s credentials; :class:`AuthenticationError` (its text scrubbed of the
    secret) when refused. No frame here holds the secret: see :mod:`~acumbamail_smtp.smtp.auth`."""
    if not smtp.supports_extension("auth"):
        raise policy.auth_missing()
    steps = auth.exchange(config, auth.mechanism(smtp.esmtp_extensions.get("auth", "")))
    smtp_logger.debug("send: AUTH as %s <redacted during AUTH>", config.username)
    error = auth.refused(config, await _authenticate(smtp, steps, limits))
    if error is not None:
        raise error


async def _authenticate(smtp: aiosmtplib.SMTP, steps: auth.AuthExchange,
                        limits: reading.ReplyLimits) -> Reply:
    """Drive the AUTH conversation over ``smtp``; the relay's last answer (logged code only)."""
    answer: Reply | None = None
    while True:
        try:
            response = await smtp.execute_command(*(next(steps) if answer is None else steps.send(answer)))
        except StopIteration as stop:
            result: Reply = stop.value
            return result
        limits.check(response.code, response.message)
        smtp_logger.debug("reply: %s <redacted during AUTH>", response.code)
        answer = Reply(response.code, response.message)


async def _ehlo(smtp: aiosmtplib.SMTP, limits: reading.ReplyLimits) -> None:
    """EHLO (logged on the transcript), its reply held to the limits."""
    smtp_logger.debug("send: EHLO %s", smtp.local_hostname)
    reply = await smtp.ehlo()
    smtp_logger.debug("reply: %s %r", reply.code, reply.message)
    limits.check(*reply)


def _ssl_object(smtp: aiosmtplib.SMTP) -> ssl.SSLObject:
    """The TLS state of ``smtp``'s transport (after STARTTLS, or from the start for implicit TLS)."""
    tls = smtp.transport.get_extra_info("ssl_object") if smtp.transport is not None else None
    if not isinstance(tls, ssl.SSLObject):
        raise errors.ConnectionFailed("the connection to the relay is not encrypted after TLS")
    return tls


class AsyncSMTPConnection:
    """One open, secured and authenticated ``aiosmtplib`` connection."""

    def __init__(self, config: RelayConfig, *, tls: ResumingContext | None = None) -> None:
        self._smtp: aiosmtplib.SMTP | None = None
        self.config = config
        self._tls = tls
        #: Whether the last TLS handshake resumed the session of an earlier connection (None: not
        #: TLS, or not opened yet).
        self.tls_resumed: bool | None = None

    @property
    def tls_context(self) -> ResumingContext:
        """The TLS context of this connection (made on first use unless the mailer shares its pool's
        with ``tls=``), which keeps the last session for the next handshake."""
        if self._tls is None:
            self._tls = ResumingContext.of(self.config)
        return self._tls

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def open(self) -> None:
        """Connect, secure and authenticate; every reply of the setup is held to the limits."""
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        limits = reading.ReplyLimits.of(cfg)
        self.tls_resumed = None
        context = self.tls_context if cfg.encrypted else None
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host, port=cfg.port, timeout=cfg.reply_deadline,
            local_hostname=cfg.local_hostname or policy.local_hostname(),
            use_tls=cfg.security == "tls", start_tls=False,
            tls_context=context if cfg.security == "tls" else None,
        )
        # Connection setup is exactly: banner, EHLO, [STARTTLS, handshake, EHLO], AUTH.
        try:
            smtp_logger.debug("connect: %s (security %s)", where, cfg.security)
            banner = await smtp.connect(timeout=cfg.timeout)
            smtp_logger.debug("reply: %s %r", banner.code, banner.message)
            limits.check(*banner)
            await _ehlo(smtp, limits)
            if cfg.security == "starttls":
                if not smtp.supports_extension("starttls"):
                    raise policy.starttls_missing(where)
                smtp_logger.debug("send: STARTTLS")
                reply = await smtp.starttls(tls_context=context)
                smtp_logger.debug("reply: %s %r", reply.code, reply.message)
                limits.check(*reply)
                await _ehlo(smtp, limits)
            if context is not None:
                self.tls_resumed = context.settle(_ssl_object(smtp), where)
            if cfg.username and cfg.password:
                await _login(smtp, cfg, limits)
        except errors.AcumbamailError:
            smtp.close()
            raise
        except BaseException as exc:
            smtp.close()
            if context is not None and _tls_cause(exc) is not None:
                context.forget()  # the next try shakes hands in full
            raise _setup_error(where, exc) from exc
        self._smtp = smtp

    async def send(self, prepared: PreparedMessage) -> SendResult:
        """MAIL, RCPT for each recipient, DATA; refused recipients are reported in the result.

        Pipelined (RFC 2920) when the relay offers PIPELINING, as a stream of one message (BDAT where
        CHUNKING is offered), see :meth:`stream`; one command at a time otherwise. For the exchange
        the transport's protocol is swapped for :class:`~acumbamail_smtp.smtp.aio_protocol.ReplyReader`
        and restored after.
        """
        smtp = self._smtp
        if smtp is None or smtp.transport is None or smtp.protocol is None:
            raise errors.ConnectionFailed("connection is not open")
        if smtp.supports_extension("pipelining"):
            handed = [prepared]
            outcomes: list[stream.Outcome] = []

            async def pull() -> PreparedMessage | None:
                return handed.pop() if handed else None

            await self.stream(pull, outcomes.append)
            return stream.only(outcomes)
        options = protocol.mail_options(prepared, smtp.supports_extension)
        transport = smtp.transport
        assert isinstance(transport, asyncio.Transport)
        original = transport.get_protocol()
        reader = aio_protocol.ReplyReader(reading.ReplyLimits.of(self.config))
        transport.set_protocol(reader)
        try:
            steps = protocol.exchange(prepared, options, pipelining=smtp.supports_extension("pipelining"))
            try:
                result = await aio_protocol.run_async(steps, transport, reader, None, policy.tracer())
            except errors.SendError as exc:
                await self._reset(exc.code or 0, transport, reader)
                raise
            if result.status == "refused":
                await self._reset(0, transport, reader)
        except errors.AcumbamailError:
            raise
        except reading.ReplyError as exc:
            self.discard()
            raise reading.broken_reply(f"{self.config.host}:{self.config.port}", exc) from exc
        except (OSError, TimeoutError) as exc:
            self.discard()
            why = exc or type(exc).__name__
            raise errors.ConnectionFailed(f"connection to the relay dropped: {why}",
                                          ambiguous=isinstance(exc, protocol.LostAfterData)) from exc
        except BaseException:
            # Cancelled (or interrupted) mid-transaction: the relay may be waiting for the rest of
            # this message, so the connection must never serve another one.
            self.discard()
            raise
        finally:
            if self._smtp is not None:
                transport.set_protocol(original)
        smtp_logger.debug("message %s: %s", prepared.message_id, result.reply)
        return result

    async def stream(self, pull: Callable[[], Awaitable[PreparedMessage | None]],
                     report: Callable[[stream.Outcome], None]) -> None:
        """Send every message ``pull`` hands in, pipelined across messages (with BDAT where the
        relay offers CHUNKING), handing each :class:`~acumbamail_smtp.smtp.stream.Outcome` to
        ``report`` as soon as it is known; see :meth:`SMTPConnection.stream`."""
        smtp = self._smtp
        if smtp is None or smtp.transport is None:
            raise errors.ConnectionFailed("connection is not open")
        if not smtp.supports_extension("pipelining"):
            await lockstep(self, pull, report)
            return
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        transport = smtp.transport
        assert isinstance(transport, asyncio.Transport)
        original = transport.get_protocol()
        reader = aio_protocol.ReplyReader(reading.ReplyLimits.of(cfg))
        transport.set_protocol(reader)
        steps = stream.stream(smtp.supports_extension,
                              chunking=cfg.chunking and smtp.supports_extension("chunking"),
                              window=cfg.chunking_window)
        try:
            usable = await aio_protocol.drive(steps, transport, reader, pull, report,
                                              lambda exc: _lost(where, exc), policy.tracer(),
                                              telemetry.emit_pending)
        except BaseException:
            self.discard()  # interrupted with messages on the wire: never reuse this connection
            raise
        if not usable:
            self.discard()
        elif self._smtp is not None:
            transport.set_protocol(original)

    async def _reset(self, code: int, transport: asyncio.Transport, reader: aio_protocol.ReplyReader) -> None:
        """RSET after a refused transaction; reconnect instead after 421 or if RSET fails."""
        if code in CLOSING_CODES or transport.is_closing():
            self.discard()
            return
        try:
            transport.write(b"RSET\r\n")
            await reader.reply()
        except (OSError, TimeoutError):
            self.discard()

    def discard(self) -> None:
        """Drop the connection without QUIT (after a fault); never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def close(self) -> None:
        """Say QUIT and close; never raises."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if smtp.is_connected:
                await smtp.quit()
        except (aiosmtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()


def _lost(where: str, exc: Exception) -> errors.ConnectionFailed:
    if isinstance(exc, reading.ReplyError):
        return reading.broken_reply(where, exc)
    return errors.ConnectionFailed(f"connection to the relay dropped: {exc or type(exc).__name__}")


async def lockstep(conn: AsyncConnection, pull: Callable[[], Awaitable[PreparedMessage | None]],
                   report: Callable[[stream.Outcome], None]) -> None:
    """The stream of a connection that cannot pipeline: one ``send`` per message, its result or
    refusal reported as the outcome; ends when the connection closes."""
    while (prepared := await pull()) is not None:
        try:
            report(stream.Outcome(prepared, await conn.send(prepared)))
        except errors.SendError as exc:
            report(stream.Outcome(prepared, exc))
        if not conn.is_open:
            return


class AsyncMailer(MailerPolicy):
    """Sends messages over a pool of up to ``pool_size`` reused connections.

    Connections open lazily and are kept until :meth:`aclose` (or the end of ``async with``).
    Safe to share across the tasks of one event loop; :meth:`send_many` sends with bounded
    concurrency. Retries, suppression, recording and ``max_per_connection`` are the policy shared
    with :class:`~acumbamail_smtp.Mailer`; store calls run in a worker thread so the event loop
    never waits on the database. ``connection`` replaces the pool with that one object (see
    :class:`~acumbamail_smtp.smtp.AsyncConnection`), used by every send, up to ``pool_size`` at once.
    """

    def __init__(self, config: RelayConfig | None = None, *, pool_size: int = 4,
                 store: SendStore | None = None, connection: AsyncConnection | None = None,
                 max_per_connection: int | None = None) -> None:
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            from ..errors import ConfigError

            raise ConfigError("pool_size", f"must be an integer >= 1, got {pool_size!r}")
        super().__init__(config, store, max_per_connection)
        self.pool_size = pool_size
        self.connection = connection
        self._idle: list[AsyncConnection] = []
        self._slots: asyncio.Semaphore | None = None
        self._closed = False
        self._tls: ResumingContext | None = None

    async def __aenter__(self) -> AsyncMailer:
        self._closed = False
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection (QUIT), and the given ``connection``."""
        idle, self._idle = self._idle, []
        self._carried.clear()
        if self.connection is not None:
            idle.append(self.connection)
        await asyncio.gather(*(conn.close() for conn in idle), return_exceptions=True)

    @property
    def open_connections(self) -> int:
        """How many idle pooled connections are open right now."""
        return sum(1 for conn in self._idle if conn.is_open)

    # -- sending ----------------------------------------------------------------------------
    async def send(self, message: Message) -> SendResult:
        """Send one message; raises :class:`RecipientsRefused` when no recipient accepted it."""
        return await self.send_prepared(prepare(message, self.config))

    async def send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Send a message already prepared (adapters that build their own MIME use this)."""
        result = await self._send_prepared(prepared)
        await self._record([result])
        if result.status == "refused":
            raise errors.RecipientsRefused(policy.refused_text(result), result=result)
        return result

    async def send_many(self, messages: Iterable[Message]) -> list[SendResult]:
        """Send every message over up to ``pool_size`` connections, each pipelining across
        messages; one result per message, in order.

        All messages are validated first; a message refused by every recipient or with a 5xx gets
        a ``refused`` result instead of stopping the batch. Any other error stops the batch (no
        message starts after it; those in flight finish) and is raised with ``results``, the same
        as from ``Mailer.send_many`` (see :func:`~acumbamail_smtp.smtp.policy.batch_error`).
        """
        prepared = [prepare(m, self.config) for m in messages]
        batch = Batch(self, iter(prepared))
        try:
            await asyncio.gather(*(self._worker(batch) for _ in range(min(self.pool_size, len(prepared)))))
        finally:
            await self._record(batch.take_records())
            telemetry.batch_over()
        results = list(batch.release())
        if batch.stopped is not None:
            policy.batch_error(batch.stopped, [*results, *batch.outcomes()], len(prepared))
            raise batch.stopped
        return results

    async def send_template(self, name: str, context: dict[str, Any], *, to: str | Sequence[str],
                            category: str | None = None, **fields: Any) -> SendResult:
        """Render template ``name`` with ``context`` and send it."""
        from ..templates.renderer import render_message

        return await self.send(render_message(name, context, to=to, category=category, **fields))

    # -- internals --------------------------------------------------------------------------
    async def _send_prepared(self, prepared: PreparedMessage) -> SendResult:
        """Suppression, then the tries (one span)."""
        with telemetry.send_span(prepared):
            if self.store is not None and prepared.recipients:
                prepared = self._without(prepared, await asyncio.to_thread(self.store.suppressed,
                                                                           list(prepared.recipients)))
            result = self._nobody_left(prepared) or await self._with_retries(prepared)
            return self._finish(prepared, result)

    async def _with_retries(self, prepared: PreparedMessage) -> SendResult:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool_size)
        async with self._slots:
            conn = self._checkout()
            try:
                for attempt in itertools.count(1):
                    step = self._settle(attempt, prepared, await self._try_once(conn, prepared))
                    if isinstance(step, SendResult):
                        return step
                    await asyncio.sleep(step)
            finally:
                self._checkin(conn)
        raise AssertionError("unreachable")

    async def _worker(self, batch: Batch) -> None:
        """One connection's share of ``batch``: streams on it, reopened as needed, until nothing
        is left that this worker could send (the others finish what they have on the wire)."""
        conn = self._checkout()
        try:
            while not batch.finished:
                if self._spent(conn):
                    await conn.close()
                if not conn.is_open:
                    if not batch.has_work():
                        if (wait := batch.waiting()) is None:
                            return
                        await asyncio.sleep(wait)
                        continue
                    try:
                        await conn.open()
                    except (errors.TransientError, errors.ConnectionFailed) as exc:
                        if (item := await self._next(batch)) is not None:
                            batch.settle(item, exc)
                        if (wait := batch.waiting()) is not None:
                            await asyncio.sleep(wait)
                        continue
                    except BaseException as exc:
                        if (item := await self._next(batch)) is None:
                            raise
                        batch.fail(item, exc)
                        return
                    self._opened(conn)
                pulled = 0

                async def pull(conn: AsyncConnection = conn) -> PreparedMessage | None:
                    nonlocal pulled
                    if self._spent(conn):
                        return None
                    item = await self._next(batch)
                    if item is not None:
                        pulled += 1
                        self._carried_one(conn)
                    return item

                def report(outcome: stream.Outcome) -> None:
                    batch.settle(outcome.prepared, outcome.outcome)

                streaming = getattr(conn, "stream", None)
                await (streaming(pull, report) if streaming is not None else lockstep(conn, pull, report))
                if len(batch.to_record) >= policy.RECORD_BATCH:
                    await self._record(batch.take_records())
                if not pulled and not self._spent(conn):
                    if (wait := batch.waiting()) is None:
                        return  # nothing for this worker; the others finish what is in flight
                    await asyncio.sleep(wait)
        finally:
            self._checkin(conn)

    async def _next(self, batch: Batch) -> PreparedMessage | None:
        """The batch's next message for the wire: a due retry, else a new one screened for
        suppression (the store asked in a worker thread); None when nothing is due."""
        item = batch.again()
        if item is not None:
            return item
        while (raw := batch.new()) is not None:
            screened = raw
            if self.store is not None and raw.recipients:
                blocked = await asyncio.to_thread(self.store.suppressed, list(raw.recipients))
                screened = self._without(raw, blocked)
            if (item := batch.launch(raw, screened)) is not None:
                return item
        return None

    def _checkin(self, conn: AsyncConnection) -> None:
        """Back to the pool if still open (the given ``connection`` stays where it is)."""
        if conn is self.connection:
            return
        if conn.is_open:
            self._idle.append(conn)
        else:
            self._forget(conn)

    def _checkout(self) -> AsyncConnection:
        """The given connection, else an idle pooled one, else a new one."""
        if self.connection is not None:
            return self.connection
        return self._idle.pop() if self._idle else AsyncSMTPConnection(self.config, tls=self.tls_context)

    @property
    def tls_context(self) -> ResumingContext | None:
        """The one TLS context of the pool (None without TLS): each new connection offers the
        session the last one kept, so it resumes instead of a full handshake."""
        if self._tls is None and self.config.encrypted:
            self._tls = ResumingContext.of(self.config)
        return self._tls

    async def _try_once(self, conn: AsyncConnection,
                        prepared: PreparedMessage) -> SendResult | errors.AcumbamailError:
        """One try on ``conn`` (reopened when spent or closed); a retryable fault is returned."""
        try:
            if self._spent(conn):
                await conn.close()
            if not conn.is_open:
                await conn.open()
                self._opened(conn)
            self._carried_one(conn)
            return await conn.send(prepared)
        except (errors.TransientError, errors.ConnectionFailed) as exc:
            if policy.must_reconnect(exc):
                conn.discard()
            return exc

    async def _record(self, results: list[SendResult]) -> None:
        if self.store is not None and results:
            await asyncio.to_thread(self._record_now, results)
