"""TurnCounter: a loopback proxy that numbers a connection's round trips exactly, for plain SMTP,
STARTTLS and implicit TLS, for one-command-at-a-time and pipelined or chunked clients."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest
from acumbamail_smtp.testserver import TurnCounter, TurnSession

from tests.testserver.relay_helpers import RawSMTP, bdat, build_message, envelope_group

PLAIN = pytest.mark.acumbamail_relay(chunking=True, starttls=False)
EHLO = b"ehlo client.example.com\r\n"  # smtplib's spelling
MAIL = b"mail FROM:<sender@example.com>\r\n"
RCPT = b"rcpt TO:<rcpt@example.com>\r\n"


def tls_context(relay, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=relay.ca_file)
    context.minimum_version = context.maximum_version = version
    return context


def smtplib_conversation(client: smtplib.SMTP, data: bytes) -> None:
    """MAIL, RCPT, DATA, the data and QUIT, after an EHLO unless one was done."""
    client.ehlo_or_helo_if_needed()
    assert client.mail("sender@example.com")[0] == 250
    assert client.rcpt("rcpt@example.com")[0] == 250
    assert client.data(data)[0] == 250
    client.quit()


@pytest.mark.acumbamail_relay(starttls=False, require_auth=False)
def test_a_plain_smtplib_conversation_is_seven_turns(acumbamail_relay, acumbamail_turn_counter):
    turns = acumbamail_turn_counter(acumbamail_relay.host, acumbamail_relay.port)
    data = build_message("counted")
    client = smtplib.SMTP(turns.host, turns.port, timeout=10)
    client.ehlo("client.example.com")
    smtplib_conversation(client, data)
    [session] = turns.wait_closed(1)
    assert session.closed
    # connect+banner, EHLO, MAIL, RCPT, DATA, the data, QUIT
    assert session.turns == 7
    # smtplib's verbs change case between Python versions ("mail FROM:" on 3.13): compare without it
    expected = (b"", EHLO, MAIL, RCPT, b"data\r\n", data + b".\r\n", b"quit\r\n")
    assert [turn.lower() for turn in session.client] == [turn.lower() for turn in expected]
    assert session.server[0].startswith(b"220 ")
    assert [reply[:4] for reply in session.server] == [b"220 ", b"250-", b"250 ", b"250 ", b"354 ", b"250 ", b"221 "]
    assert acumbamail_relay.wait_for(1)[0].data == data


@pytest.mark.parametrize(
    ("version", "delay", "expected"),
    [
        # connect, EHLO, STARTTLS, ClientHello, ClientKeyExchange+Finished, EHLO (smtplib's
        # login), AUTH, MAIL, RCPT, DATA, data, QUIT
        (ssl.TLSVersion.TLSv1_2, 0.0, 12),
        # TLS 1.3 saves one: the client's Finished and the EHLO after it go in one turn. The
        # server's session tickets answer that Finished; a delay keeps them from reaching the
        # client before it sends the EHLO, as they could not on a real link.
        (ssl.TLSVersion.TLSv1_3, 0.05, 11),
    ],
)
def test_starttls_handshake_flights_count_as_turns(
    acumbamail_relay, acumbamail_turn_counter, version, delay, expected
):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.port, delay=delay)
    client = smtplib.SMTP(turns.host, turns.port, timeout=10)
    client.ehlo("client.example.com")
    client.starttls(context=tls_context(relay, version))
    client.login(relay.username, relay.password)
    smtplib_conversation(client, build_message("over STARTTLS"))
    [session] = turns.wait_closed(1)
    assert session.turns == expected
    assert session.client[1:3] == (EHLO, b"STARTTLS\r\n")
    assert session.client[3][:1] == b"\x16"  # a TLS handshake record: the ClientHello
    assert b"EHLO" not in b"".join(session.client[3:])  # encrypted from there on
    [message] = relay.wait_for(1)
    assert message.tls and message.authenticated_as == relay.username


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3])
def test_implicit_tls_counts_the_handshake_in_the_connect(acumbamail_relay, acumbamail_turn_counter, version):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.tls_port)
    client = smtplib.SMTP_SSL(turns.host, turns.port, context=tls_context(relay, version), timeout=10)
    client.login(relay.username, relay.password)  # smtplib sends EHLO first
    smtplib_conversation(client, build_message("over TLS"))
    [session] = turns.wait_closed(1)
    # ClientHello at connect; the client's second flight; EHLO once the banner came; AUTH;
    # MAIL; RCPT; DATA; data; QUIT
    assert session.turns == 9
    assert session.client[0][:1] == b"\x16"
    assert relay.wait_for(1)[0].tls


@PLAIN
def test_message_end_and_the_next_mail_in_one_turn(acumbamail_relay, acumbamail_turn_counter):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.port)
    client = RawSMTP(turns.host, turns.port)
    try:
        client.login(relay.username, relay.password)
        first, second = build_message("first"), build_message("second")
        client.send(envelope_group(["rcpt@example.com"]) + b"DATA\r\n")
        assert [code for code, _ in client.replies(3)] == [250, 250, 354]
        client.send(first + b".\r\n" + envelope_group(["rcpt@example.com"]) + b"DATA\r\n")
        assert [code for code, _ in client.replies(4)] == [250, 250, 250, 354]
        client.send(second + b".\r\n")
        assert client.reply()[0] == 250
        session = turns.sessions[0]
    finally:
        client.close()
    # connect, EHLO, AUTH, envelope+DATA, data+envelope+DATA, data
    assert session.turns == 6
    assert session.turns_with(b"\r\n.\r\nMAIL FROM") == [5]
    assert session.client[4] == first + b".\r\n" + envelope_group(["rcpt@example.com"]) + b"DATA\r\n"
    assert [m.subject for m in relay.wait_for(2)] == ["first", "second"]


@PLAIN
def test_two_chunked_messages_in_one_turn(acumbamail_relay, acumbamail_turn_counter):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.port)
    client = RawSMTP(turns.host, turns.port)
    try:
        client.login(relay.username, relay.password)
        group = b"".join(
            envelope_group(["rcpt@example.com"]) + bdat(build_message(s), last=True) for s in ("a", "b")
        )
        client.send(group + b"QUIT\r\n")
        assert [code for code, _ in client.replies(7)] == [250, 250, 250, 250, 250, 250, 221]
        assert client.at_eof()
    finally:
        client.close()
    [session] = turns.wait_closed(1)
    assert session.turns == 4  # connect, EHLO, AUTH, everything else
    assert session.client[3] == group + b"QUIT\r\n"
    assert session.server[3].count(b"queued as") == 2


@PLAIN
def test_each_connection_is_its_own_session(acumbamail_relay, acumbamail_turn_counter):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.port)
    for _ in range(2):
        with smtplib.SMTP(turns.host, turns.port, timeout=10) as client:
            assert client.noop()[0] == 250
    sessions = turns.wait_closed(2)
    assert [s.turns for s in sessions] == [3, 3]  # connect, NOOP, QUIT
    turns.clear()
    assert turns.sessions == []


@PLAIN
def test_a_drop_upstream_closes_the_client_side(acumbamail_relay, acumbamail_turn_counter):
    relay = acumbamail_relay
    turns = acumbamail_turn_counter(relay.host, relay.port)
    relay.fault_at("mail", "drop")
    client = RawSMTP(turns.host, turns.port)
    try:
        client.login(relay.username, relay.password)
        client.send(MAIL)
        assert client.at_eof()
    finally:
        client.close()
    [session] = turns.wait_closed(1)
    assert session.client[-1] == MAIL and session.turns == 4


def test_an_upstream_that_refuses_closes_the_client_at_once(acumbamail_turn_counter):
    with socket.socket() as placeholder:
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]  # bound, not listening: connections are refused
        turns = acumbamail_turn_counter("127.0.0.1", port)
        with socket.create_connection((turns.host, turns.port), timeout=10) as client:
            assert client.recv(10) == b""
        [session] = turns.wait_closed(1)
    assert session == TurnSession(client=(b"",), server=(b"",), closed=True)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("192.0.2.1", 25), {}, "loopback"),
        (("mail.example.com", 25), {}, "loopback"),
        (("127.0.0.1", 0), {}, "port number"),
        (("127.0.0.1", 25), {"delay": -1}, "delay"),
    ],
)
def test_turn_counter_checks_its_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        TurnCounter(*args, **kwargs)


def test_port_needs_a_running_counter():
    counter = TurnCounter("::1", 25)
    with pytest.raises(RuntimeError, match="not running"):
        _ = counter.port
    with counter:
        assert counter.port > 0
    counter.stop()
