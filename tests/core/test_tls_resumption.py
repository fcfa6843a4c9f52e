"""TLS session resumption against the fake relay: real handshakes over loopback, STARTTLS and
implicit TLS. A mailer's next connection resumes the last session; another mailer never gets it;
a relay that declines it (restarted, so its ticket keys are new) gets a full handshake, no error."""

from __future__ import annotations

import asyncio
import base64
import logging
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from acumbamail_smtp import AsyncMailer, ConnectionFailed, Mailer, RelayConfig
from acumbamail_smtp.result import Reply
from acumbamail_smtp.smtp import auth
from acumbamail_smtp.smtp.sync import SMTPConnection
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD, USERNAME
from .test_transport import msg

SMTP_LOG = "acumbamail_smtp.smtp"

#: Both ways of securing the connection: STARTTLS on the plain port, implicit TLS on the TLS port.
MODES: dict[str, Callable[..., RelayConfig]] = {
    "starttls": FakeRelay.client_config,
    "tls": FakeRelay.tls_client_config,
}


@pytest.fixture(params=sorted(MODES))
def config_for(request: pytest.FixtureRequest) -> Callable[..., RelayConfig]:
    """``config_for(relay, **overrides)``: the client configuration of the mode under test."""
    return MODES[request.param]


def handshakes(caplog: pytest.LogCaptureFixture) -> list[str]:
    """'resumed' or 'full' for each TLS handshake logged so far, in order."""
    return ["resumed" if "session resumed" in r.getMessage() else "full"
            for r in caplog.records if r.name == SMTP_LOG and r.getMessage().startswith("TLS with ")]


@contextmanager
def restarted(relay: FakeRelay) -> Iterator[FakeRelay]:
    """``relay`` stopped and a new one on the same ports: new certificate, new ticket keys, so a
    session from before is one it cannot resume."""
    port, tls_port = relay.port, relay.tls_port
    relay.stop()
    with FakeRelay(username=USERNAME, password=PASSWORD, port=port, tls_port=tls_port, http=False) as again:
        yield again


# -- the synchronous mailer ---------------------------------------------------------------


def test_second_connection_of_a_mailer_resumes(relay: FakeRelay,
                                               config_for: Callable[..., RelayConfig]) -> None:
    mailer = Mailer(config_for(relay))
    conn = mailer.connection
    assert isinstance(conn, SMTPConnection)
    assert conn.tls_resumed is None
    with mailer:
        assert conn.tls_resumed is False
        mailer.send(msg(0))
    with mailer:
        assert conn.tls_resumed is True
        result = mailer.send(msg(1))
    assert result.status == "sent"
    received = relay.wait_for(2)
    assert [m.tls for m in received] == [True, True]
    assert relay.sessions == 2


def test_reconnect_after_max_per_connection_resumes(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                                    caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    mailer = Mailer(config_for(relay), max_per_connection=2)
    results = mailer.send_many(msg(i) for i in range(5))
    assert [r.status for r in results] == ["sent"] * 5
    assert relay.sessions == 3
    assert handshakes(caplog) == ["full", "resumed", "resumed"]


def test_plain_connection_has_no_tls_state(acumbamail_relay_factory: Callable[..., FakeRelay]) -> None:
    relay = acumbamail_relay_factory(starttls=False, username=USERNAME, password=PASSWORD)
    mailer = Mailer(relay.client_config(security="none", allow_insecure=True))
    conn = mailer.connection
    assert isinstance(conn, SMTPConnection)
    with mailer:
        assert mailer.send(msg()).status == "sent"
        assert conn.tls_resumed is None


def test_another_mailer_never_gets_the_session(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                               caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    # One context given by the user, shared by both configurations: Python itself would accept a
    # session of one mailer on the other's handshakes, so only the per-mailer keeping stops it.
    shared = ssl.create_default_context(cafile=relay.ca_file)
    first, second = Mailer(config_for(relay, ssl_context=shared)), Mailer(config_for(relay, ssl_context=shared))
    first.send(msg(0))
    first.send(msg(1))
    second.send(msg(2))
    other_port = Mailer(relay.tls_client_config() if first.config.security == "starttls"
                        else relay.client_config())
    other_port.send(msg(3))
    assert handshakes(caplog) == ["full", "resumed", "full", "full"]
    first_conn, second_conn = first.connection, second.connection
    assert isinstance(first_conn, SMTPConnection) and isinstance(second_conn, SMTPConnection)
    assert first_conn.tls_context is not second_conn.tls_context
    assert first_conn.tls_context.wrapped is second_conn.tls_context.wrapped is shared


def test_relay_that_declines_the_session_gets_a_full_handshake(
        relay: FakeRelay, config_for: Callable[..., RelayConfig], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    trusted = ssl.create_default_context(cafile=relay.ca_file)
    mailer = Mailer(config_for(relay, ssl_context=trusted))
    mailer.send(msg(0))
    mailer.send(msg(1))
    with restarted(relay) as again:
        trusted.load_verify_locations(cafile=again.ca_file)
        conn = mailer.connection
        assert isinstance(conn, SMTPConnection) and conn.tls_context.has_session
        with mailer:
            assert conn.tls_resumed is False
            result = mailer.send(msg(2))
            assert result.status == "sent"
        assert again.wait_for(1)[0].tls
        mailer.send(msg(3))  # the new relay's session is the one kept now
    assert handshakes(caplog) == ["full", "resumed", "full", "resumed"]


def test_failed_handshake_forgets_the_session(relay: FakeRelay, config_for: Callable[..., RelayConfig]) -> None:
    trusted = ssl.create_default_context(cafile=relay.ca_file)
    mailer = Mailer(config_for(relay, ssl_context=trusted, max_tries=1))
    mailer.send(msg(0))
    conn = mailer.connection
    assert isinstance(conn, SMTPConnection) and conn.tls_context.has_session
    with restarted(relay):  # a certificate the client does not trust: the handshake fails
        with pytest.raises(ConnectionFailed, match="TLS with"):
            mailer.send(msg(1))
    assert not conn.tls_context.has_session


def test_tls12_sessions_resume_too(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    context = ssl.create_default_context(cafile=relay.ca_file)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    mailer = Mailer(config_for(relay, ssl_context=context))
    mailer.send(msg(0))
    mailer.send(msg(1))
    assert handshakes(caplog) == ["full", "resumed"]
    assert "(TLSv1.2)" in caplog.text


def test_the_session_is_never_logged(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, "acumbamail_smtp")
    mailer = Mailer(config_for(relay))
    mailer.send(msg(0))
    with mailer:
        mailer.send(msg(1))
        conn = mailer.connection
        assert isinstance(conn, SMTPConnection) and conn._smtp is not None
        sock = conn._smtp.sock
        assert isinstance(sock, ssl.SSLSocket) and sock.session is not None
        session_id = sock.session.id
    assert len(session_id) >= 16
    for shown in (session_id.hex(), repr(session_id), base64.b64encode(session_id).decode()):
        assert shown not in caplog.text
    assert PASSWORD not in caplog.text
    assert handshakes(caplog) == ["full", "resumed"]


# -- the asyncio mailer -----------------------------------------------------------------------


async def test_pool_connections_resume(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    async with AsyncMailer(config_for(relay), pool_size=3) as mailer:
        await mailer.send(msg(0))
        # One idle connection: two more are opened, each offering the first one's session.
        results = await asyncio.gather(*(mailer.send(msg(i)) for i in range(1, 4)))
        assert mailer.open_connections == 3
        assert sorted(conn.tls_resumed for conn in mailer._idle) == [False, True, True]  # type: ignore[attr-defined]
    assert [r.status for r in results] == ["sent"] * 3
    assert handshakes(caplog) == ["full", "resumed", "resumed"]
    assert relay.sessions == 3


async def test_async_reconnect_after_max_per_connection_resumes(
        relay: FakeRelay, config_for: Callable[..., RelayConfig], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    async with AsyncMailer(config_for(relay), pool_size=1, max_per_connection=1) as mailer:
        for i in range(3):
            await mailer.send(msg(i))
    assert relay.sessions == 3
    assert handshakes(caplog) == ["full", "resumed", "resumed"]


async def test_another_async_mailer_never_gets_the_session(
        relay: FakeRelay, config_for: Callable[..., RelayConfig], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    shared = ssl.create_default_context(cafile=relay.ca_file)
    first = AsyncMailer(config_for(relay, ssl_context=shared), pool_size=1)
    second = AsyncMailer(config_for(relay, ssl_context=shared), pool_size=1)
    async with first:
        await first.send(msg(0))
    async with second:
        await second.send(msg(1))
    async with first:
        await first.send(msg(2))
    assert handshakes(caplog) == ["full", "full", "resumed"]
    assert first.tls_context is not second.tls_context


async def test_async_relay_that_declines_the_session_gets_a_full_handshake(
        relay: FakeRelay, config_for: Callable[..., RelayConfig], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    trusted = ssl.create_default_context(cafile=relay.ca_file)
    mailer = AsyncMailer(config_for(relay, ssl_context=trusted), pool_size=1)
    async with mailer:
        await mailer.send(msg(0))
    with restarted(relay) as again:
        trusted.load_verify_locations(cafile=again.ca_file)
        assert mailer.tls_context is not None and mailer.tls_context.has_session
        async with mailer:
            result = await mailer.send(msg(1))
        assert result.status == "sent"
        assert again.wait_for(1)[0].tls
    assert handshakes(caplog) == ["full", "full"]


async def test_async_failed_handshake_forgets_the_session(relay: FakeRelay,
                                                          config_for: Callable[..., RelayConfig]) -> None:
    trusted = ssl.create_default_context(cafile=relay.ca_file)
    mailer = AsyncMailer(config_for(relay, ssl_context=trusted, max_tries=1), pool_size=1)
    async with mailer:
        await mailer.send(msg(0))
    assert mailer.tls_context is not None and mailer.tls_context.has_session
    with restarted(relay):
        async with mailer:
            with pytest.raises(ConnectionFailed, match="TLS with"):
                await mailer.send(msg(1))
    assert not mailer.tls_context.has_session


# -- connection setup: nothing the protocol does not need -------------------------------------


def _sent(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The commands of the DEBUG transcript ('send: ...' lines), AUTH redacted, QUIT left out."""
    lines = [r.getMessage() for r in caplog.records if r.name == SMTP_LOG and r.getMessage().startswith("send:")]
    return [line.split()[1].strip("'\"").split("\\r")[0].upper() for line in lines if "quit" not in line.lower()]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_sync_setup_sends_only_what_smtp_needs(acumbamail_relay_factory: Callable[..., FakeRelay],
                                               config_for: Callable[..., RelayConfig], mechanism: str,
                                               caplog: pytest.LogCaptureFixture) -> None:
    relay = acumbamail_relay_factory(username=USERNAME, password=PASSWORD, auth_mechanisms=(mechanism,))
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    mailer = Mailer(config_for(relay))
    mailer.open()
    sent = _sent(caplog)
    mailer.close()
    hello = ["EHLO", "STARTTLS", "EHLO"] if mailer.config.security == "starttls" else ["EHLO"]
    # AUTH PLAIN with its initial response: one write; LOGIN with the user name in it: two.
    auth_writes = ["<REDACTED"] * (1 if mechanism == "PLAIN" else 2)
    assert sent == hello + auth_writes
    assert any(r.getMessage().startswith("reply: 220") for r in caplog.records)  # the banner is shown


async def test_async_setup_sends_only_what_smtp_needs(relay: FakeRelay, config_for: Callable[..., RelayConfig],
                                                      caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, SMTP_LOG)
    async with AsyncMailer(config_for(relay), pool_size=1) as mailer:
        conn = mailer._checkout()
        await conn.open()
        sent = _sent(caplog)
        await conn.close()
    hello = ["EHLO", "STARTTLS", "EHLO"] if mailer.config.security == "starttls" else ["EHLO"]
    assert sent == [*hello, "AUTH"]


async def test_login_only_relay_takes_two_auth_round_trips_async(
        acumbamail_relay_factory: Callable[..., FakeRelay], config_for: Callable[..., RelayConfig]) -> None:
    relay = acumbamail_relay_factory(username=USERNAME, password=PASSWORD, auth_mechanisms=("LOGIN",))
    async with AsyncMailer(config_for(relay), pool_size=1) as mailer:
        result = await mailer.send(msg())
    assert result.status == "sent"
    assert relay.wait_for(1)[0].authenticated_as == USERNAME


def test_login_initial_response_and_a_relay_that_asks_for_the_name_again() -> None:
    config = RelayConfig(host="127.0.0.1", username=USERNAME, password=PASSWORD)
    name, secret = base64.b64encode(USERNAME.encode()), base64.b64encode(PASSWORD.encode())

    steps = auth.exchange(config, "LOGIN")
    assert next(steps) == (b"AUTH", b"LOGIN", name)
    assert steps.send(Reply(334, base64.b64encode(b"Password:").decode())) == (secret,)
    with pytest.raises(StopIteration) as done:
        steps.send(Reply(235, "2.7.0 ok"))
    assert done.value.value.code == 235

    ignoring = auth.exchange(config, "LOGIN")
    assert next(ignoring) == (b"AUTH", b"LOGIN", name)
    assert ignoring.send(Reply(334, "VXNlcm5hbWU6")) == (name,)  # "Username:"
    assert ignoring.send(Reply(334, "UGFzc3dvcmQ6")) == (secret,)  # "Password:"


def test_a_ca_file_gone_before_the_handshake_is_a_connection_error(
        relay: FakeRelay, config_for: Callable[..., RelayConfig], tmp_path: Path) -> None:
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(Path(relay.ca_file).read_bytes())
    config = config_for(relay, ca_file=str(ca_file), max_tries=1)
    ca_file.unlink()  # the context is built at the first handshake, inside the connection's errors

    with pytest.raises(ConnectionFailed):
        Mailer(config).send(msg(0))

    async def send_async() -> None:
        async with AsyncMailer(config, pool_size=1) as mailer:
            await mailer.send(msg(1))

    with pytest.raises(ConnectionFailed):
        asyncio.run(send_async())
    assert relay.messages == []
