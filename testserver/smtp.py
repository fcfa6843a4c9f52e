"""The fake relay's SMTP conversation: aiosmtpd's server, bent to answer like Acumbamail's relay
(AUTH after TLS, ``250 2.0.0 Ok: queued as <ID>``) and to act out the faults a test scripted."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import socket
from typing import Any, Protocol

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session, TLSSetupException

from .faults import Faults, RecipientRule

log = logging.getLogger(__name__)

IDENT = "ESMTP acumbamail-smtp fake relay"
SERVER_NAME = "localhost"
AUTH_REQUIRED = "530 5.7.0 Authentication required"


class RelayBackend(Protocol):
    """What the SMTP side needs of :class:`~acumbamail_smtp.testserver.FakeRelay` (declared here,
    so this module does not import the relay that imports it)."""

    require_auth: bool
    pipelining: bool
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
    message refused that way is ever stored."""

    def __init__(self, relay: RelayBackend, *, implicit_tls: bool, **kwargs: Any) -> None:
        self._relay = relay
        self._implicit_tls = implicit_tls
        super().__init__(RelayHandler(relay), authenticator=relay._authenticate, **kwargs)

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

    async def smtp_MAIL(self, arg: str | None) -> None:
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
        await self._delay()
        await super().smtp_RCPT(arg)

    async def smtp_DATA(self, arg: str) -> None:
        await self._delay()
        await super().smtp_DATA(arg)


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
        await server._delay()
        failure = self.relay._faults.take_data_failure()
        if failure is not None:
            return failure
        envelope.settled = True
        queue_id = self.relay._accept(
            envelope,
            authenticated_as=session.auth_data if session.authenticated else None,
            tls=server.uses_tls(),
        )
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
