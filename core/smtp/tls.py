"""TLS session resumption for both mailers: a reconnect offers the session of the last handshake.

A full TLS handshake costs the relay's certificate chain, its verification and a key exchange on
every new connection; a resumed one (a TLS 1.3 ticket, RFC 8446 2.2, or a TLS 1.2 ticket/session
id) skips them. Python's ``ssl`` resumes only when ``session=`` is passed to ``wrap_socket`` or
``wrap_bio``, which neither ``smtplib`` (STARTTLS, ``SMTP_SSL``) nor asyncio (``start_tls``,
``create_connection(ssl=)``) does; :class:`ResumingContext` fills it in.

One :class:`ResumingContext` belongs to one mailer (a :class:`~acumbamail_smtp.Mailer`'s connection,
or every connection of an :class:`~acumbamail_smtp.AsyncMailer`'s pool): Python refuses a session
from another context, and a session is never offered to another mailer, host or configuration.
A relay that declines the offered session simply does a full handshake.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable

from ..config import RelayConfig
from .policy import smtp_logger

__all__ = ["ResumingContext"]


class ResumingContext(ssl.SSLContext):
    """The client TLS context of one mailer: each handshake offers the session :meth:`settle` kept.

    It wraps the context the configuration gives (``config.create_ssl_context()``, the user's own
    ``ssl_context`` included), which does every handshake: its verification, certificates and
    options apply unchanged; this object only carries the session between connections. Never
    share one between mailers: the session of one is not for the other.
    """

    _inner: ssl.SSLContext | None
    _make: Callable[[], ssl.SSLContext] | None
    _session: ssl.SSLSession | None
    _hostname: str | bytes | None

    def __new__(cls, inner: ssl.SSLContext | Callable[[], ssl.SSLContext]) -> ResumingContext:
        self = super().__new__(cls, ssl.PROTOCOL_TLS_CLIENT)
        if isinstance(inner, ResumingContext):
            inner = inner.wrapped
        self._inner, self._make = (inner, None) if isinstance(inner, ssl.SSLContext) else (None, inner)
        self._session = None
        self._hostname = None
        return self

    def __init__(self, inner: ssl.SSLContext | Callable[[], ssl.SSLContext]) -> None:
        """Carry sessions for handshakes made by ``inner`` (or the context it makes when first needed)."""

    @classmethod
    def of(cls, config: RelayConfig) -> ResumingContext:
        """A new context (with no session yet) for a mailer with ``config``. Its wrapped context is
        built at the first handshake, so a missing ``ca_file`` fails there, as a connection error."""
        return cls(config.create_ssl_context)

    @property
    def wrapped(self) -> ssl.SSLContext:
        """The context that does the handshakes (the configuration's), built on first use."""
        if self._inner is None:
            assert self._make is not None
            inner = self._make()
            if isinstance(inner, ResumingContext):  # a mailer's context given as ssl_context
                inner = inner.wrapped
            self._inner = inner
        return self._inner

    @property
    def has_session(self) -> bool:
        """Whether a session is kept to offer on the next handshake."""
        return self._session is not None

    def _offer(self, session: ssl.SSLSession | None,
               server_hostname: str | bytes | None) -> ssl.SSLSession | None:
        """The session to offer: the one asked for, else the kept one when it is for this host."""
        if session is not None:
            return session
        return self._session if server_hostname == self._hostname else None

    def wrap_socket(self, sock: socket.socket, server_side: bool = False,
                    do_handshake_on_connect: bool = True, suppress_ragged_eofs: bool = True,
                    server_hostname: str | bytes | None = None,
                    session: ssl.SSLSession | None = None) -> ssl.SSLSocket:
        """``wrap_socket`` of the wrapped context, offering the kept session (smtplib's path)."""
        return self.wrapped.wrap_socket(sock, server_side, do_handshake_on_connect, suppress_ragged_eofs,
                                        server_hostname, self._offer(session, server_hostname))

    def wrap_bio(self, incoming: ssl.MemoryBIO, outgoing: ssl.MemoryBIO, server_side: bool = False,
                 server_hostname: str | bytes | None = None,
                 session: ssl.SSLSession | None = None) -> ssl.SSLObject:
        """``wrap_bio`` of the wrapped context, offering the kept session (asyncio's path)."""
        return self.wrapped.wrap_bio(incoming, outgoing, server_side, server_hostname,
                                     self._offer(session, server_hostname))

    def settle(self, tls: ssl.SSLSocket | ssl.SSLObject, where: str) -> bool:
        """After the first reply over ``tls``: keep its session for the next handshake and return
        whether this one resumed (logged at DEBUG, never the session itself).

        Read this late, not right after the handshake: a TLS 1.3 server sends its ticket after
        the handshake, so the session is resumable only once a reply has been read past it.
        """
        resumed = bool(tls.session_reused)
        session = tls.session
        if session is not None and tls.context is self.wrapped:
            self._session, self._hostname = session, tls.server_hostname
        smtp_logger.debug("TLS with %s: %s (%s)", where, "session resumed" if resumed else "full handshake",
                          tls.version())
        return resumed

    def forget(self) -> None:
        """Drop the kept session (after a failed handshake): the next one is a full handshake."""
        self._session = self._hostname = None
