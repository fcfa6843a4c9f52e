"""The asynchronous transport: :class:`AsyncMailer` keeps a pool of reused ``aiosmtplib`` connections.

The exchange for one message lives in :meth:`AsyncConnection.send`, the async twin of
:meth:`~acumbamail_smtp.smtp.sync.SyncConnection.send`; the retry rules are shared with it.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import aiosmtplib

from ..config import RelayConfig
from ..errors import (
    AcumbamailError,
    ConnectionFailed,
    PermanentError,
    RecipientsRefused,
    SendError,
    TransientError,
)
from ..message import Message, PreparedMessage, prepare
from ..result import SendResult
from . import protocol
from .replies import CLOSING_CODES, auth_error, error_for_reply
from .sync import (
    _trace,
    local_hostname,
    must_reconnect,
    refused_result,
    refused_text,
    retry_delay,
)

if TYPE_CHECKING:
    from ..store.sqlite import SendStore

smtp_logger = logging.getLogger("acumbamail_smtp.smtp")
logger = logging.getLogger("acumbamail_smtp.transport")


def _tls_cause(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class AsyncConnection:
    """One open, secured and authenticated ``aiosmtplib`` connection."""

    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self._smtp: aiosmtplib.SMTP | None = None

    @property
    def is_open(self) -> bool:
        return self._smtp is not None and self._smtp.is_connected

    async def open(self) -> None:
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        context = cfg.create_ssl_context() if cfg.encrypted else None
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host, port=cfg.port, timeout=cfg.timeout,
            local_hostname=cfg.local_hostname or local_hostname(),
            use_tls=cfg.security == "tls", start_tls=False,
            tls_context=context if cfg.security == "tls" else None,
        )
        try:
            smtp_logger.debug("connect: %s (security %s)", where, cfg.security)
            await smtp.connect()
            ehlo = await smtp.ehlo()
            smtp_logger.debug("reply: %s %r", ehlo.code, ehlo.message)
            if cfg.security == "starttls":
                if not smtp.supports_extension("starttls"):
                    raise ConnectionFailed(
                        f"relay {where} does not offer STARTTLS, which this configuration requires "
                        "(use the implicit TLS port 465 or 2525 with security='tls')",
                        retryable=False,
                    )
                smtp_logger.debug("send: STARTTLS")
                await smtp.starttls(tls_context=context)
                await smtp.ehlo()
            if cfg.username and cfg.password:
                if not smtp.supports_extension("auth"):
                    raise PermanentError(
                        "relay does not offer AUTH on this connection (it may require TLS first)"
                    )
                smtp_logger.debug("send: AUTH as %s <redacted during AUTH>", cfg.username)
                try:
                    await smtp.login(cfg.username, cfg.password)
                except aiosmtplib.SMTPAuthenticationError as exc:
                    raise auth_error(cfg.username, exc.code, exc.message) from None
        except AcumbamailError:
            smtp.close()
            raise
        except BaseException as exc:
            smtp.close()
            tls = _tls_cause(exc)
            if tls is not None:
                raise ConnectionFailed(
                    f"TLS with {where} failed: {tls}",
                    retryable=not isinstance(tls, ssl.SSLCertVerificationError),
                ) from exc
            if isinstance(exc, aiosmtplib.SMTPResponseException) and not isinstance(
                exc, aiosmtplib.SMTPServerDisconnected
            ):
                raise error_for_reply("connection setup", exc.code, exc.message) from exc
            if isinstance(exc, aiosmtplib.SMTPException | OSError | asyncio.TimeoutError):
                raise ConnectionFailed(f"cannot connect to {where}: {exc}") from exc
            raise
        self._smtp = smtp

    async def send(self, prepared: PreparedMessage) -> SendResult:
        """MAIL, RCPT for each recipient, DATA; refused recipients are reported in the result.

        Pipelined (RFC 2920) when the relay offers PIPELINING: for the exchange the transport's
        protocol is swapped for :class:`~acumbamail_smtp.smtp.protocol.ReplyReader` and restored after.
        """
        smtp = self._smtp
        if smtp is None or smtp.transport is None or smtp.protocol is None:
            raise ConnectionFailed("connection is not open")
        options = protocol.mail_options(prepared, smtp.supports_extension)
        transport = smtp.transport
        assert isinstance(transport, asyncio.Transport)
        original = transport.get_protocol()
        reader = protocol.ReplyReader()
        timeout = self.config.timeout
        transport.set_protocol(reader)
        try:
            steps = protocol.exchange(prepared, options, pipelining=smtp.supports_extension("pipelining"))
            try:
                trace = _trace if smtp_logger.isEnabledFor(logging.DEBUG) else None
                result = await protocol.run_async(steps, transport, reader, timeout, trace)
            except SendError as exc:
                await self._reset(exc.code or 0, transport, reader)
                raise
            if result.status == "refused":
                await self._reset(0, transport, reader)
        except AcumbamailError:
            raise
        except (OSError, TimeoutError) as exc:
            self.discard()
            raise ConnectionFailed(f"connection to the relay dropped: {exc or type(exc).__name__}") from exc
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

    async def _reset(self, code: int, transport: asyncio.Transport, reader: protocol.ReplyReader) -> None:
        """RSET after a refused transaction; reconnect instead after 421 or if RSET fails."""
        if code in CLOSING_CODES or transport.is_closing():
            self.discard()
            return
        try:
            transport.write(b"RSET\r\n")
            await reader.reply(self.config.timeout)
        except (OSError, TimeoutError):
            self.discard()

    def discard(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    async def close(self) -> None:
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


class AsyncMailer:
    """Sends messages over a pool of up to ``pool_size`` reused connections.

    Connections open lazily and are kept until :meth:`aclose` (or the end of ``async with``).
    Safe to share across the tasks of one event loop; :meth:`send_many` sends with bounded
    concurrency. Retries, suppression and recording follow :class:`~acumbamail_smtp.Mailer`;
    store calls run in a worker thread so the event loop never waits on the database.
    """

    def __init__(self, config: RelayConfig | None = None, *, pool_size: int = 4,
                 store: SendStore | None = None) -> None:
        if isinstance(pool_size, bool) or not isinstance(pool_size, int) or pool_size < 1:
            from ..errors import ConfigError

            raise ConfigError("pool_size", f"must be an integer >= 1, got {pool_size!r}")
        self.config = config if config is not None else RelayConfig.from_env()
        self.pool_size = pool_size
        self.store = store
        self._idle: list[AsyncConnection] = []
        self._slots: asyncio.Semaphore | None = None
        self._closed = False

    async def __aenter__(self) -> AsyncMailer:
        self._closed = False
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close every pooled connection (QUIT)."""
        idle, self._idle = self._idle, []
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
            raise RecipientsRefused(refused_text(result), result=result)
        return result

    async def send_many(self, messages: Iterable[Message]) -> list[SendResult]:
        """Send every message, up to ``pool_size`` at a time; one result per message, in order.

        All messages are validated first; a message refused by every recipient or with a 5xx gets
        a ``refused`` result instead of stopping the batch.
        """
        prepared = [prepare(m, self.config) for m in messages]

        async def one(item: PreparedMessage) -> SendResult:
            try:
                return await self._send_prepared(item)
            except PermanentError as exc:
                return refused_result(item, exc)

        outcomes = list(await asyncio.gather(*(one(p) for p in prepared), return_exceptions=True))
        results = [o for o in outcomes if isinstance(o, SendResult)]
        await self._record(results)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                if isinstance(outcome, SendError):
                    outcome.results = outcomes
                raise outcome
        return results

    async def send_template(self, name: str, context: dict[str, Any], *, to: str | Sequence[str],
                            category: str | None = None, **fields: Any) -> SendResult:
        """Render template ``name`` with ``context`` and send it."""
        from ..templates.renderer import render_message

        return await self.send(render_message(name, context, to=to, category=category, **fields))

    # -- internals --------------------------------------------------------------------------
    async def _send_prepared(self, prepared: PreparedMessage) -> SendResult:
        if self.store is not None and prepared.recipients:
            blocked = await asyncio.to_thread(self.store.suppressed, list(prepared.recipients))
            prepared = prepared.without(blocked)
        if not prepared.recipients:
            result = SendResult(prepared.message_id, "refused", suppressed=list(prepared.suppressed),
                                category=prepared.category)
        else:
            result = await self._with_retries(prepared)
        if prepared.source is not None:
            prepared.source.send_result = result
        return result

    async def _with_retries(self, prepared: PreparedMessage) -> SendResult:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.pool_size)
        attempt = 0
        async with self._slots:
            conn = self._idle.pop() if self._idle else AsyncConnection(self.config)
            try:
                while True:
                    attempt += 1
                    outcome: SendResult | AcumbamailError
                    try:
                        if not conn.is_open:
                            await conn.open()
                        outcome = await conn.send(prepared)
                    except (TransientError, ConnectionFailed) as exc:
                        if must_reconnect(exc):
                            conn.discard()
                        outcome = exc
                    delay = retry_delay(self.config, attempt, prepared.message_id, outcome)
                    if delay is None:
                        if isinstance(outcome, SendResult):
                            return outcome
                        raise outcome
                    await asyncio.sleep(delay)
            finally:
                if conn.is_open:
                    self._idle.append(conn)

    async def _record(self, results: list[SendResult]) -> None:
        if self.store is None or not results:
            return
        try:
            await asyncio.to_thread(self.store.record_sends, results)
        except Exception:
            logger.exception("could not record %d sent message(s) in the event store", len(results))
