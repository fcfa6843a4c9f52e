"""FakeRelay: a local stand-in for Acumbamail's SMTP relay and its webhooks, on 127.0.0.1.

It speaks real SMTP (STARTTLS on ``port``, implicit TLS on ``tls_port``, AUTH PLAIN/LOGIN, SIZE,
PIPELINING, SMTPUTF8, and CHUNKING/BDAT when asked) with a throw-away certificate authority,
records what it accepts, acts out faults a test scripts, posts Acumbamail-shaped webhook events,
and serves a JSON API and a small web page listing the messages. The SMTP side runs on its own
event loop in a background thread, so synchronous and asynchronous tests use it alike.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

try:
    import trustme
    from aiosmtpd.smtp import SMTP, AuthResult, Envelope, Session
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        f"the fake relay needs aiosmtpd and trustme ({exc.name} is missing): "
        "pip install 'acumbamail-smtp[testserver]'"
    ) from exc

from .faults import BounceAt, FaultAction, FaultPoint, Faults, RecipientRule, StreamFault, address_key
from .records import ReceivedMessage
from .smtp import IDENT, SERVER_NAME, RelayEnvelope, RelaySMTP, auth_result, check_login
from .webhooks import WebhookDelivery, WebhookEmitter, make_event

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from acumbamail_smtp.config import RelayConfig

HOST = "127.0.0.1"
MECHANISMS = ("PLAIN", "LOGIN")
START_TIMEOUT = 10.0


class FakeRelay:
    """A fake Acumbamail relay. ``with FakeRelay() as relay:`` or ``start()``/``stop()``.

    ``port``/``tls_port``/``http_port`` default to 0 (a free port chosen by the OS); the command
    line passes fixed ones. All listeners bind 127.0.0.1 only.

    ``chunking=True`` announces CHUNKING (RFC 3030) and takes ``BDAT <size> [LAST]``: each chunk
    is read raw, a non-LAST one answers ``250 2.0.0 <size> octets received``, and LAST accepts the
    message exactly as the end of DATA does (same record, queue id, events, faults, recipient
    rules). Out of sequence (no MAIL or accepted RCPT, after a failed chunk) a chunk is still read
    and answered 503; a malformed size gets 501 and the connection closes. Off by default, as the
    relay being imitated is not known to offer it.
    """

    def __init__(
        self,
        *,
        username: str = "user@example.com",
        password: str = "test-password",  # noqa: S107 - the fake's made-up default
        size_limit: int | None = 10 * 1024 * 1024,
        starttls: bool = True,
        require_auth: bool = True,
        auth_mechanisms: Iterable[str] = MECHANISMS,
        pipelining: bool = True,
        chunking: bool = False,
        smtputf8: bool = True,
        reply_delay: float = 0.0,
        webhook_url: str | None = None,
        webhook_signing_secret: str | None = None,
        webhook_batch_size: int = 50,
        http: bool = True,
        port: int = 0,
        tls_port: int = 0,
        http_port: int = 0,
    ) -> None:
        if not isinstance(username, str) or not username:
            raise ValueError("username must be a non-empty string")
        if not isinstance(password, str) or not password:
            raise ValueError("password must be a non-empty string")
        if isinstance(auth_mechanisms, str):
            auth_mechanisms = auth_mechanisms.split()
        mechanisms = tuple(m.upper() for m in auth_mechanisms)
        unknown = [m for m in mechanisms if m not in MECHANISMS]
        if unknown or not mechanisms:
            raise ValueError(
                f"auth_mechanisms must be a non-empty subset of {MECHANISMS}, got {mechanisms!r}"
            )
        if size_limit is not None and (
            isinstance(size_limit, bool) or not isinstance(size_limit, int) or size_limit < 0
        ):
            raise ValueError(f"size_limit must be a number of bytes >= 0 or None, got {size_limit!r}")
        for name, value in (("port", port), ("tls_port", tls_port), ("http_port", http_port)):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
                raise ValueError(f"{name} must be 0 (any free port) or a port number, got {value!r}")
        self.username = username
        self._password = password
        self.size_limit = size_limit or None
        self.starttls = bool(starttls)
        self.require_auth = bool(require_auth)
        self.auth_mechanisms = mechanisms
        self.pipelining = bool(pipelining)
        self.chunking = bool(chunking)
        self.smtputf8 = bool(smtputf8)
        self.http = bool(http)
        self._faults = Faults(reply_delay)
        if webhook_url is None and webhook_signing_secret is not None:
            raise ValueError("webhook_signing_secret needs a webhook_url")
        self._emitter = (
            None
            if webhook_url is None
            else WebhookEmitter(
                webhook_url, signing_secret=webhook_signing_secret, batch_size=webhook_batch_size
            )
        )
        self._wanted_ports = (port, tls_port, http_port)

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._messages: list[ReceivedMessage] = []
        self._events: list[dict[str, Any]] = []
        self._latest: dict[str, str] = {}
        self._queue_ids: set[str] = set()
        self._sessions = 0

        self._lifecycle = threading.Lock()
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[RelaySMTP] = set()  # touched by the loop thread only
        self._http_server: ThreadingHTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._tempdir: str | None = None
        self._ca_file: str | None = None
        self._ports: tuple[int, int] | None = None

    def __repr__(self) -> str:
        where = f"port={self._ports[0]}, tls_port={self._ports[1]}" if self._ports else "stopped"
        return f"FakeRelay({where}, username={self.username!r}, messages={len(self.messages)})"

    # lifecycle

    def __enter__(self) -> FakeRelay:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> FakeRelay:
        """Start listening (a no-op when already running); returns the relay."""
        with self._lifecycle:
            if self._running:
                return self
            try:
                self._start()
            except BaseException:
                self._stop()
                raise
            self._running = True
            return self

    def stop(self) -> None:
        """Stop every listener and thread and remove the certificates; safe to call twice.

        Webhook events not yet acknowledged are not posted any more: call :meth:`flush_webhooks`
        first if the test needs them."""
        with self._lifecycle:
            self._stop()
            self._running = False

    @property
    def running(self) -> bool:
        return self._running

    def _start(self) -> None:
        self._tempdir = tempfile.mkdtemp(prefix="acumbamail-fake-relay-")
        ca = trustme.CA(organization_name="acumbamail-smtp fake relay")
        certificate = ca.issue_cert(HOST, "localhost")
        ca_file = os.path.join(self._tempdir, "ca.pem")
        ca.cert_pem.write_to_path(ca_file)
        self._ca_file = ca_file
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)

        port, tls_port, http_port = self._wanted_ports
        # Bound here, not by aiosmtpd's Controller, whose port=0 does not work.
        plain_socket = socket.create_server((HOST, port))
        try:
            tls_socket = socket.create_server((HOST, tls_port))
        except OSError:
            plain_socket.close()
            raise
        ports = (plain_socket.getsockname()[1], tls_socket.getsockname()[1])
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._loop_thread = threading.Thread(
            target=_run_loop, args=(loop,), name="fake-relay-smtp", daemon=True
        )
        self._loop_thread.start()
        future = asyncio.run_coroutine_threadsafe(
            self._serve(plain_socket, tls_socket, context), loop
        )
        try:
            future.result(START_TIMEOUT)
        except BaseException:
            plain_socket.close()
            tls_socket.close()
            raise
        self._ports = ports

        if self.http:
            from .web import make_http_server

            self._http_server = make_http_server(self, HOST, http_port)
            self._http_thread = threading.Thread(
                target=self._http_server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-relay-http",
                daemon=True,
            )
            self._http_thread.start()
        if self._emitter is not None:
            self._emitter.start()

    async def _serve(
        self, plain_socket: socket.socket, tls_socket: socket.socket, context: ssl.SSLContext
    ) -> None:
        loop = asyncio.get_running_loop()
        excluded = [m for m in MECHANISMS if m not in self.auth_mechanisms]
        common: dict[str, Any] = {
            "loop": loop,
            "hostname": SERVER_NAME,
            "ident": IDENT,
            "data_size_limit": self.size_limit,
            "enable_SMTPUTF8": self.smtputf8,
            "auth_exclude_mechanism": excluded,
        }

        def plain() -> RelaySMTP:
            self._count_session()
            # Without STARTTLS there is no way to encrypt, so AUTH is allowed in clear text there.
            return RelaySMTP(
                self,
                implicit_tls=False,
                tls_context=context if self.starttls else None,
                auth_require_tls=self.starttls,
                **common,
            )

        def implicit_tls() -> RelaySMTP:
            self._count_session()
            return RelaySMTP(self, implicit_tls=True, auth_require_tls=False, **common)

        self._servers = [
            await loop.create_server(plain, sock=plain_socket),
            await loop.create_server(implicit_tls, sock=tls_socket, ssl=context),
        ]

    def _stop(self) -> None:
        if self._emitter is not None:
            self._emitter.stop()
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None
        if self._http_thread is not None:
            self._http_thread.join(5)
            self._http_thread = None
        loop, thread = self._loop, self._loop_thread
        if loop is not None and thread is not None and thread.is_alive():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(START_TIMEOUT)
            finally:
                loop.call_soon_threadsafe(loop.stop)
                thread.join(START_TIMEOUT)
        self._loop = self._loop_thread = None
        self._servers = []
        self._ports = None
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
            self._tempdir = self._ca_file = None

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        for connection in list(self._connections):
            if connection.transport is not None:
                connection.transport.abort()  # type: ignore[attr-defined]
        await asyncio.sleep(0)
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for server in self._servers:
            await asyncio.wait_for(server.wait_closed(), START_TIMEOUT)

    # where it listens

    def _require_running(self) -> tuple[int, int]:
        if self._ports is None:
            raise RuntimeError("the fake relay is not running: call start() or use it in a with block")
        return self._ports

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        """The plain SMTP port (offers STARTTLS unless ``starttls=False``)."""
        return self._require_running()[0]

    @property
    def tls_port(self) -> int:
        """The implicit TLS SMTP port."""
        return self._require_running()[1]

    @property
    def ca_file(self) -> str:
        """PEM file of the throw-away CA that signed the relay's certificate (removed at stop)."""
        self._require_running()
        assert self._ca_file is not None
        return self._ca_file

    @property
    def http_port(self) -> int:
        self._require_running()
        if self._http_server is None:
            raise RuntimeError("the HTTP API is off (http=False)")
        return int(self._http_server.server_address[1])

    @property
    def http_url(self) -> str:
        """Base URL of the JSON API and the web page, e.g. ``http://127.0.0.1:40123``."""
        return f"http://{HOST}:{self.http_port}"

    @property
    def password(self) -> str:
        return self._password

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts the relay's certificate."""
        return ssl.create_default_context(cafile=self.ca_file)

    def client_config(self, **overrides: Any) -> RelayConfig:
        """A RelayConfig for this relay (STARTTLS on ``port``, trusting ``ca_file``, fast retries).

        Overriding ``port`` with ``tls_port`` alone switches ``security`` to ``"tls"``."""
        from acumbamail_smtp.config import RelayConfig

        values: dict[str, Any] = {
            "host": HOST,
            "port": self.port,
            "username": self.username,
            "password": self._password,
            "security": "starttls",
            "ca_file": self.ca_file,
            "timeout": 10.0,
            "retry_backoff": 0.01,
        }
        if overrides.get("port") == self.tls_port and "security" not in overrides:
            values["security"] = "tls"
        if "ssl_context" in overrides:
            values.pop("ca_file")
        values.update(overrides)
        return RelayConfig(**values)

    def tls_client_config(self, **overrides: Any) -> RelayConfig:
        """A RelayConfig for the implicit TLS port."""
        return self.client_config(**{"port": self.tls_port, "security": "tls", **overrides})

    # what it received

    @property
    def messages(self) -> list[ReceivedMessage]:
        """A snapshot of the accepted messages, in arrival order."""
        with self._lock:
            return list(self._messages)

    def get_message(self, queue_id: str) -> ReceivedMessage | None:
        with self._lock:
            return next((m for m in self._messages if m.id == queue_id), None)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every webhook event emitted, in order (also kept when no ``webhook_url`` is set)."""
        with self._lock:
            return [dict(event) for event in self._events]

    @property
    def sessions(self) -> int:
        """How many SMTP connections were opened (on both ports)."""
        with self._lock:
            return self._sessions

    def clear(self) -> None:
        """Forget the received messages and the emitted events (queued webhook POSTs still go out)."""
        with self._lock:
            self._messages.clear()
            self._events.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ReceivedMessage]:
        """Block until at least ``count`` messages are there; AssertionError after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                got = [f"{m.id} to {', '.join(m.rcpt_tos)}" for m in self._messages]
                raise AssertionError(
                    f"the fake relay expected at least {count} message(s) within {timeout} s "
                    f"but received {len(got)}: {got}"
                )
            return list(self._messages)

    # faults

    def refuse_recipient(
        self, address: str, code: int = 550, text: str = "5.1.1 mailbox unavailable"
    ) -> None:
        """Answer RCPT TO ``address`` (any case) with ``code text``; a bounce event follows."""
        self._faults.refuse(address, code, text, "rcpt")

    def hard_bounce(self, address: str, at: BounceAt = "rcpt") -> None:
        """Refuse ``address`` with 550 at RCPT, or (``at="async"``) accept it and emit
        ``hard_bounces`` instead of ``delivered``, as when the remote server bounces later."""
        self._faults.refuse(address, 550, "5.1.1 mailbox unavailable", at)

    def soft_bounce(self, address: str, at: BounceAt = "rcpt") -> None:
        """Refuse ``address`` with 451 4.2.0 at RCPT, or accept it and emit ``soft_bounces`` later."""
        self._faults.refuse(address, 451, "4.2.0 mailbox temporarily unavailable, try again later", at)

    def close_after(self, n: int, code: int = 421) -> None:
        """After ``n`` more accepted messages, answer the next MAIL FROM with ``421 4.3.0 ...`` and
        close the connection. Fires once."""
        self._faults.close_after(n, code)

    def drop_after(self, n: int) -> None:
        """After ``n`` more accepted messages, close the connection without a word at the next
        MAIL FROM. Fires once."""
        self._faults.drop_after(n)

    def fail_next_data(
        self, code: int = 451, text: str = "4.3.0 Temporary failure, try again later", times: int = 1
    ) -> None:
        """Answer the next ``times`` ends of DATA (or BDAT LAST) with ``code text`` instead of accepting."""
        self._faults.fail_next_data(code, text, times)

    def fault_at(
        self,
        point: FaultPoint,
        action: FaultAction,
        *,
        code: int | None = None,
        text: str | None = None,
        nth: int = 1,
    ) -> StreamFault:
        """Strike the ``nth`` time (1 = the next) ``point`` is reached from now, on any connection,
        so a test can break a pipelined or chunked stream exactly where it wants.

        ``point``: ``"mail"``, ``"rcpt"``, ``"data"`` (the command, before 354), ``"bdat"`` (a
        chunk without LAST), ``"bdat_last"`` (once its chunk is read: every well-formed BDAT
        counts, even one out of sequence) or ``"data_end"`` (the end of a message's data, where it
        would be accepted; aiosmtpd's own too-long/too-much refusals never get there).

        ``action``:

        - ``"refuse"``: answer ``code text`` (default 451 and a text naming the point) instead of
          the normal reply, and carry on as a real server would: a refused MAIL begins no
          transaction, a refused RCPT adds no recipient (and emits no event), a refused DATA
          leaves the transaction as it was (no 354; the client should RSET), a refused chunk
          fails the transaction (later chunks get 503, LAST resets it), a refused message end
          stores nothing and resets the transaction. A 421 also closes the connection after it.
        - ``"drop"``: close the connection without answering (a message end stores nothing).
        - ``"drop_after_accept"`` (``data_end``/``bdat_last`` only): store the message exactly as
          it would be accepted, with its events, then close without answering: the ambiguous case.

        Several faults may be scripted at once (not two for the same occurrence of one point). A
        stream fault at ``mail`` is looked up before ``close_after``/``drop_after``, one at
        ``data_end`` before ``fail_next_data``. :meth:`reset_faults` clears them."""
        return self._faults.fault_at(point, action, code=code, text=text, nth=nth)

    @property
    def pending_faults(self) -> list[StreamFault]:
        """The faults scripted with :meth:`fault_at` that have not struck yet."""
        return self._faults.pending_stream_faults

    def delay_replies(self, seconds: float) -> None:
        """Wait ``seconds`` before every reply to MAIL, RCPT, DATA, the end of DATA and BDAT."""
        self._faults.delay_replies(seconds)

    def fail_auth(self, on: bool = True) -> None:
        """Refuse every AUTH with 535, even with the right credentials (an account not enabled yet)."""
        self._faults.fail_auth(on)

    def reset_faults(self) -> None:
        """Clear every scripted fault, including those of :meth:`fault_at` (and the reply delay)."""
        self._faults.reset()

    # webhooks

    def emit_open(self, recipient: str, queue_id: str | None = None) -> dict[str, Any]:
        """Emit an ``opens`` event (for the recipient's latest message unless ``queue_id`` says)."""
        return self._emit_for(recipient, "opens", queue_id)

    def emit_click(self, recipient: str, url: str, queue_id: str | None = None) -> dict[str, Any]:
        """Emit a ``clicks`` event carrying ``url``."""
        return self._emit_for(recipient, "clicks", queue_id, url=url)

    def emit_complaint(self, recipient: str, queue_id: str | None = None) -> dict[str, Any]:
        """Emit a ``complaints`` event (the recipient marked the message as spam)."""
        return self._emit_for(recipient, "complaints", queue_id)

    def flush_webhooks(self, timeout: float = 10.0) -> None:
        """Block until every queued event has been acknowledged with a 2xx (AssertionError after
        ``timeout``); returns at once when no ``webhook_url`` is set."""
        if self._emitter is not None:
            self._emitter.flush(timeout)

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every POST attempt as ``(status, body)``; status is None when no response came."""
        return [] if self._emitter is None else self._emitter.deliveries

    def _emit_for(
        self, recipient: str, name: str, queue_id: str | None, url: str | None = None
    ) -> dict[str, Any]:
        if queue_id is None:
            with self._lock:
                queue_id = self._latest.get(address_key(recipient))
            if queue_id is None:
                raise ValueError(
                    f"the fake relay has accepted no message for {recipient!r}; pass queue_id"
                )
        event = make_event(name, recipient, queue_id, url=url)
        self._emit([event])
        return event

    def _emit(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        with self._lock:
            self._events.extend(events)
        if self._emitter is not None:
            self._emitter.enqueue(events)

    # called from the SMTP side (event loop thread)

    def _count_session(self) -> None:
        with self._lock:
            self._sessions += 1

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object
    ) -> AuthResult:
        if self._faults.auth_fails:
            return auth_result(None)
        return auth_result(check_login(self.username, self._password, auth_data))

    def _new_queue_id(self) -> str:
        while True:
            queue_id = secrets.token_hex(6).upper()
            if queue_id not in self._queue_ids:
                self._queue_ids.add(queue_id)
                return queue_id

    def _accept(self, envelope: RelayEnvelope, *, authenticated_as: Any, tls: bool) -> str:
        """Record an accepted message and emit its events; returns its queue id."""
        data = envelope.original_content or b""
        with self._lock:
            queue_id = self._new_queue_id()
        record = ReceivedMessage.parse(
            id=queue_id,
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            received_at=datetime.now(UTC),
            smtputf8=bool(envelope.smtp_utf8),
            authenticated_as=authenticated_as if isinstance(authenticated_as, str) else None,
            tls=tls,
        )
        events = []
        for recipient in record.rcpt_tos:
            rule = envelope.later_bounces.get(recipient)
            events.append(make_event(rule.event if rule else "delivered", recipient, queue_id))
        events.extend(make_event(rule.event, address, queue_id) for address, rule in envelope.refused)
        with self._changed:
            self._messages.append(record)
            for recipient in record.rcpt_tos:
                self._latest[address_key(recipient)] = queue_id
            self._changed.notify_all()
        self._faults.count_accepted()
        self._emit(events)
        return queue_id

    def _emit_refusals(self, queue_id: str, refused: list[tuple[str, RecipientRule]]) -> None:
        """Bounce events for recipients refused at RCPT of a message that was never accepted."""
        self._emit([make_event(rule.event, address, queue_id) for address, rule in refused])


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
