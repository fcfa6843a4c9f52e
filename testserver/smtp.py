"""The fake relay's SMTP conversation: aiosmtpd's server, bent to answer like Acumbamail's relay
(AUTH after TLS, ``250 2.0.0 Ok: queued as <ID>``), extended with CHUNKING (RFC 3030 ``BDAT``,
which aiosmtpd lacks), and made to act out the faults a test scripted."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from typing import Any, AnyStr, Protocol

from aiosmtpd.smtp import (
    SMTP,
    AuthResult,
    Envelope,
    LoginPassword,
    Session,
    TLSSetupException,
    syntax,
)

from .faults import FaultPoint, Faults, RecipientRule, StreamFault

log = logging.getLogger(__name__)

IDENT = "ESMTP acumbamail-smtp fake relay"
SERVER_NAME = "localhost"
AUTH_REQUIRED = "530 5.7.0 Authentication required"
BDAT_SYNTAX = "501 5.5.4 Syntax: BDAT <size> [LAST]"
#: BDAT octets are read (and, for a failed transaction, discarded) in pieces of at most this size.
BDAT_READ = 64 * 1024


class RelayBackend(Protocol):
    """What the SMTP side needs of :class:`~acumbamail_smtp.testserver.FakeRelay` (declared here,
    so this module does not import the relay that imports it)."""

    require_auth: bool
    pipelining: bool
    chunking: bool
    _faults: Faults
    _connections: set[RelaySMTP]

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: object) -> AuthResult: ...

    def _accept(self, envelope: RelayEnvelope, *, authenticated_as: Any, tls: bool) -> str: ...

    def _emit_refusals(self, queue_id: str, refused: list[tuple[str, RecipientRule]]) -> None: ...


class RelayEnvelope(Envelope):
    """aiosmtpd's envelope plus what the relay noted at RCPT, so bounce events can name the message."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[tuple[str, RecipientRule]] = []
        self.later_bounces: dict[str, RecipientRule] = {}
        self.settled = False
        #: CHUNKING: the octets of the BDAT chunks so far (None until this transaction's first BDAT)
        self.chunks: bytearray | None = None
        #: a BDAT chunk of this transaction failed: the rest are discarded with 503 up to LAST
        self.chunks_failed = False


class RelaySession(Session):
    """aiosmtpd's session without the deprecation warning it logs on every successful AUTH."""

    @property
    def login_data(self) -> Any:
        return self._login_data

    @login_data.setter
    def login_data(self, value: Any) -> None:
        self._login_data = value


class RelaySMTP(SMTP):
    """One client connection. Faults act before aiosmtpd sees the command, so nothing of a
    message refused that way is ever stored. Stream faults (``FakeRelay.fault_at``) are looked up
    as each point is reached: MAIL, RCPT, DATA on arrival, BDAT once its chunk is read, the end
    of DATA where the message would be accepted. With the relay's ``chunking`` on it also takes
    ``BDAT`` (see :meth:`smtp_BDAT`); without it BDAT is an unknown command, as on most servers."""

    def __init__(self, relay: RelayBackend, *, implicit_tls: bool, **kwargs: Any) -> None:
        self._relay = relay
        self._implicit_tls = implicit_tls
        #: set while BDAT LAST runs the DATA hook, which then leaves the message-end fault to BDAT
        self._ending_chunks = False
        #: a scripted 421 is being answered: close once it is out, as RFC 5321 has a server do
        self._close_after_reply = False
        super().__init__(RelayHandler(relay), authenticator=relay._authenticate, **kwargs)
        if not relay.chunking:
            self._smtp_methods.pop("BDAT", None)

    def _create_envelope(self) -> RelayEnvelope:
        return RelayEnvelope()

    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        first = self.transport is None
        super().connection_made(transport)
        if first:
            self._relay._connections.add(self)
            # aiosmtpd writes a multi-line reply line by line; without NODELAY, Nagle and delayed
            # ACKs add ~40 ms to every EHLO (asyncio skips it for sockets made with proto 0).
            sock = transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def connection_lost(self, error: Exception | None) -> None:
        self._settle_envelope()
        self._relay._connections.discard(self)
        super().connection_lost(error)

    def _set_post_data_state(self) -> None:
        # The current transaction ends (DATA done or failed, RSET, EHLO): report what it refused.
        self._settle_envelope()
        super()._set_post_data_state()  # type: ignore[no-untyped-call]

    def _settle_envelope(self) -> None:
        envelope = self.envelope
        if isinstance(envelope, RelayEnvelope) and not envelope.settled:
            envelope.settled = True
            if envelope.refused:
                self._relay._emit_refusals("", envelope.refused)

    def uses_tls(self) -> bool:
        """Whether this connection is encrypted (implicit TLS, or after STARTTLS)."""
        return self._implicit_tls or (self.session is not None and self.session.ssl is not None)

    async def _wait_for_close(self) -> None:
        # connection_lost() cancels this coroutine; until then no further command is read.
        await asyncio.get_running_loop().create_future()

    async def _delay(self) -> None:
        seconds = self._relay._faults.reply_delay
        if seconds > 0:
            await asyncio.sleep(seconds)

    async def push(self, status: AnyStr) -> None:
        await super().push(status)
        if self._close_after_reply:
            await self._close_and_wait()

    def _fault_reply(self, fault: StreamFault) -> str:
        """The reply of a ``refuse`` fault; a 421 also closes the connection once sent."""
        assert fault.reply is not None
        self._close_after_reply = fault.reply.startswith("421")
        return fault.reply

    async def _drop(self) -> None:
        """Close the connection at once without a reply; never returns (the task is cancelled)."""
        if self.transport is not None:
            self.transport.abort()  # type: ignore[attr-defined]
        await self._wait_for_close()

    async def _command_fault(self, point: FaultPoint) -> bool:
        """Act out a stream fault scripted for this arrival at ``point``; True if it answered."""
        fault = self._relay._faults.reach(point)
        if fault is None:
            return False
        if fault.action == "drop":
            await self._drop()
        await self._delay()
        await self.push(self._fault_reply(fault))
        return True

    async def smtp_MAIL(self, arg: str | None) -> None:
        if await self._command_fault("mail"):
            return  # refused: no transaction begins
        fault = self._relay._faults.take_connection_fault()
        if fault is not None and self.transport is not None:
            kind, reply = fault
            if kind == "close":
                await self.push(reply)
                self.transport.close()
            else:
                self.transport.abort()  # type: ignore[attr-defined]
            await self._wait_for_close()
            return
        await self._delay()
        session = self.session
        if (
            self._relay.require_auth
            and session is not None
            and session.host_name
            and not session.authenticated
        ):
            await self.push(AUTH_REQUIRED)
            return
        await super().smtp_MAIL(arg)

    async def smtp_RCPT(self, arg: str | None) -> None:
        if await self._command_fault("rcpt"):
            return  # refused: the recipient is not added
        await self._delay()
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if await self._command_fault("data"):
            return  # refused: no 354, the transaction stays as it was (the client should RSET)
        await self._delay()
        envelope = self.envelope
        if isinstance(envelope, RelayEnvelope) and envelope.chunks is not None:
            # RFC 3030 section 2: DATA after BDAT in one transaction is a bad sequence.
            await self.push("503 5.5.1 Error: DATA not allowed in a BDAT transaction")
            return
        await super().smtp_DATA(arg)

    @syntax("BDAT <size> [LAST]")
    async def smtp_BDAT(self, arg: str | None) -> None:
        """RFC 3030 CHUNKING: read exactly ``size`` octets raw (no dot-stuffing, no lines) and add
        them to the message; ``LAST`` ends it through the very path that ends DATA.

        Every chunk is read whole before the reply, even one that is refused, so a pipelining
        client's stream stays in step. A size that cannot be parsed leaves no way to find the
        next command: 501, and the connection is closed."""
        size, last = _parse_bdat(arg)
        if size is None:
            await self.push(BDAT_SYNTAX)
            await self._close_and_wait()
            return
        envelope = self.envelope
        assert isinstance(envelope, RelayEnvelope)
        refusal = self._bdat_refusal(envelope)
        limit = self.data_size_limit
        if refusal is None and limit and len(envelope.chunks or b"") + size > limit:
            refusal = "552 5.3.4 Error: Too much mail data"
        chunk = await self._read_octets(size, keep=refusal is None)
        fault = self._relay._faults.reach("bdat_last" if last else "bdat")
        if fault is not None and fault.action == "drop":
            await self._drop()  # nothing of the message is stored
        if fault is not None and fault.action == "refuse":
            refusal = self._fault_reply(fault)
        if refusal is not None or not last:
            await self._delay()  # for an accepted LAST, handle_DATA waits, as at the end of DATA
        if refusal is not None:
            if fault is not None and fault.action == "drop_after_accept":
                await self._drop()  # not accepted, yet the close comes where the reply would
            if envelope.mail_from and envelope.rcpt_tos:
                # A transaction that had begun has failed: discard its later chunks up to LAST.
                envelope.chunks = envelope.chunks or bytearray()
                envelope.chunks_failed = True
            if last:
                self._set_post_data_state()
            await self.push(refusal)
            return
        assert chunk is not None
        if envelope.chunks is None:
            envelope.chunks = bytearray()
        envelope.chunks += chunk
        if not last:
            await self.push(f"250 2.0.0 {size} octets received")
            return
        content = bytes(envelope.chunks)
        envelope.chunks = bytearray()
        envelope.content = envelope.original_content = content
        self._ending_chunks = True
        try:
            status = await self._call_handler_hook("DATA")
        finally:
            self._ending_chunks = False
        self._set_post_data_state()
        if fault is not None and fault.action == "drop_after_accept":
            await self._drop()  # stored (unless refused), but the client never hears of it
        await self.push(status)

    def _bdat_refusal(self, envelope: RelayEnvelope) -> str | None:
        """The 503 a BDAT gets out of sequence (no MAIL, no accepted RCPT, an earlier chunk failed)."""
        if not envelope.mail_from:
            return "503 5.5.1 Error: need MAIL command"
        if not envelope.rcpt_tos:
            return "503 5.5.1 Error: need RCPT command"
        if envelope.chunks_failed:
            return "503 5.5.1 Error: an earlier chunk of this message failed"
        return None

    async def _read_octets(self, size: int, *, keep: bool) -> bytes | None:
        """Exactly ``size`` octets off the stream; discarded piecewise (None) unless ``keep``."""
        try:
            if keep:
                return await self._reader.readexactly(size)
            remaining = size
            while remaining:
                piece = await self._reader.read(min(remaining, BDAT_READ))
                if not piece:
                    raise asyncio.IncompleteReadError(b"", remaining)
                remaining -= len(piece)
            return None
        except asyncio.IncompleteReadError:
            # The client went away mid-chunk: nothing to answer.
            await self._close_and_wait()
            return None

    async def _close_and_wait(self) -> None:
        if self.transport is not None:
            self.transport.close()
        await self._wait_for_close()


def _parse_bdat(arg: str | None) -> tuple[int | None, bool]:
    """``(size, last)`` from ``<size> [LAST]``; size is None when the argument is malformed."""
    words = (arg or "").split()
    if not 1 <= len(words) <= 2 or not words[0].isascii() or not words[0].isdigit():
        return None, False
    if len(words) == 2 and words[1].upper() != "LAST":
        return None, False
    return int(words[0]), len(words) == 2


# Keep aiosmtpd's HELP text for the commands overridden above.
for _name in ("smtp_MAIL", "smtp_RCPT", "smtp_DATA"):
    for _attr in ("__smtp_syntax__", "__smtp_syntax_extended__", "__smtp_syntax_when__"):
        if hasattr(getattr(SMTP, _name), _attr):
            setattr(getattr(RelaySMTP, _name), _attr, getattr(getattr(SMTP, _name), _attr))
del _name, _attr


class RelayHandler:
    """aiosmtpd hooks: EHLO extensions, recipient rules, and accepting the message."""

    def __init__(self, relay: RelayBackend) -> None:
        self.relay = relay

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.relay.pipelining:
            responses.insert(len(responses) - 1, "250-PIPELINING")
        if self.relay.chunking:
            responses.insert(len(responses) - 1, "250-CHUNKING")
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: RelayEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: RelayEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        rule = self.relay._faults.rule_for(address)
        if rule is not None and rule.at == "rcpt":
            envelope.refused.append((address, rule))
            return rule.reply
        if rule is not None:
            envelope.later_bounces[address] = rule
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: RelaySMTP, session: Session, envelope: RelayEnvelope) -> str:
        # BDAT LAST acts out its own stream fault before it gets here.
        fault: StreamFault | None = None if server._ending_chunks else self.relay._faults.reach("data_end")
        if fault is not None and fault.action == "drop":
            await server._drop()  # the message is not stored
        await server._delay()
        if fault is not None and fault.action == "refuse":
            return server._fault_reply(fault)
        failure = self.relay._faults.take_data_failure()
        if failure is not None:
            if fault is not None:  # drop_after_accept of a message refused anyway
                await server._drop()
            return failure
        envelope.settled = True
        queue_id = self.relay._accept(
            envelope,
            authenticated_as=session.auth_data if session.authenticated else None,
            tls=server.uses_tls(),
        )
        if fault is not None:  # drop_after_accept: stored, the client never hears of it
            await server._drop()
        return f"250 2.0.0 Ok: queued as {queue_id}"

    async def handle_exception(self, error: Exception) -> str:
        if isinstance(error, TLSSetupException):
            # A client that does not trust the relay's CA: expected in tests, aiosmtpd closes it.
            log.info("fake relay: STARTTLS handshake failed: %s", error.__cause__)
            return "454 4.7.0 TLS handshake failed"
        log.exception("fake relay: error while handling a command")
        return f"451 4.3.0 Fake relay error: {type(error).__name__}"


def check_login(relay_username: str, relay_password: str, auth_data: object) -> str | None:
    """The user name if ``auth_data`` (aiosmtpd's LoginPassword) matches, else None."""
    if not isinstance(auth_data, LoginPassword):
        return None
    user_ok = hmac.compare_digest(auth_data.login, relay_username.encode())
    password_ok = hmac.compare_digest(auth_data.password, relay_password.encode())
    return relay_username if user_ok and password_ok else None


def auth_result(username: str | None) -> AuthResult:
    if username is None:
        return AuthResult(success=False, handled=False)
    return AuthResult(success=True, auth_data=username)
