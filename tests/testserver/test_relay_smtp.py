"""The fake relay speaks SMTP like Acumbamail's relay: TLS, AUTH, extensions, queue ids."""

from __future__ import annotations

import base64
import smtplib
import socket
import ssl
from datetime import UTC

import aiosmtplib
import pytest
from acumbamail_smtp import RelayConfig
from acumbamail_smtp.testserver import FakeRelay

from tests.testserver.relay_helpers import build_message, send


def test_starttls_auth_and_send_records_every_field(acumbamail_relay, connect):
    relay = acumbamail_relay
    client = connect(relay)
    code, reply = send(
        client,
        build_message("Welcome", category="ORDER CONFIRMATION"),
        ["rcpt@example.com", "cc@example.com"],
    )
    client.quit()

    assert code == 250
    assert reply.startswith(b"2.0.0 Ok: queued as ")
    queue_id = reply.decode().rsplit(" ", 1)[1]
    assert len(queue_id) == 12
    assert queue_id == queue_id.upper()
    int(queue_id, 16)
    [message] = relay.wait_for(1)
    assert message.id == queue_id
    assert message.mail_from == "sender@example.com"
    assert message.rcpt_tos == ["rcpt@example.com", "cc@example.com"]
    assert message.category == "ORDER CONFIRMATION"
    assert message.subject == "Welcome"
    assert message.message["To"] == "rcpt@example.com"
    assert message.text == "Hello there\n"
    assert message.data.startswith(b"From: sender@example.com\r\n")
    assert message.tls is True
    assert message.authenticated_as == relay.username
    assert message.smtputf8 is False
    assert message.received_at.tzinfo is UTC


def test_queue_ids_are_unique(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    replies = {send(client, build_message(f"n{i}"), ["a@example.com"])[1] for i in range(5)}
    assert len(replies) == 5
    assert len({m.id for m in acumbamail_relay.messages}) == 5


def test_implicit_tls_port(acumbamail_relay, connect):
    client = connect(acumbamail_relay, tls="implicit")
    assert "starttls" not in client.esmtp_features
    assert send(client, build_message(), ["a@example.com"])[0] == 250
    [message] = acumbamail_relay.wait_for(1)
    assert message.tls is True
    assert message.authenticated_as == "user@example.com"


def test_auth_is_refused_before_starttls(acumbamail_relay, connect):
    client = connect(acumbamail_relay, tls=None, login=False)
    assert "auth" not in client.esmtp_features
    assert "starttls" in client.esmtp_features
    token = base64.b64encode(b"\0user@example.com\0test-password").decode()
    code, reply = client.docmd("AUTH", f"PLAIN {token}")
    assert code in (530, 538)
    assert b"Encryption required" in reply


def test_mail_without_auth_is_refused(acumbamail_relay, connect):
    client = connect(acumbamail_relay, login=False)
    code, reply = client.mail("sender@example.com")
    assert (code, reply) == (530, b"5.7.0 Authentication required")
    assert client.rcpt("a@example.com")[0] == 503
    assert acumbamail_relay.messages == []


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_wrong_password_gets_535(acumbamail_relay, connect, mechanism):
    client = connect(acumbamail_relay, login=False)
    client.user, client.password = "user@example.com", "wrong-password"
    method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        client.auth(mechanism, method)
    assert info.value.smtp_code == 535
    assert b"5.7.8" in info.value.smtp_error


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_each_mechanism_accepts_good_credentials(acumbamail_relay, connect, mechanism):
    client = connect(acumbamail_relay, login=False)
    client.user, client.password = acumbamail_relay.username, acumbamail_relay.password
    method = client.auth_plain if mechanism == "PLAIN" else client.auth_login
    assert client.auth(mechanism, method)[0] == 235


def test_auth_mechanisms_can_be_limited(acumbamail_relay_factory, connect):
    relay = acumbamail_relay_factory(auth_mechanisms=("LOGIN",))
    client = connect(relay, login=False)
    assert client.esmtp_features["auth"].split() == ["LOGIN"]
    assert client.docmd("AUTH", "PLAIN")[0] == 504


def test_without_starttls_the_plain_port_does_not_offer_it(acumbamail_relay_factory, connect):
    relay = acumbamail_relay_factory(starttls=False)
    client = connect(relay, tls=None, login=False)
    assert "starttls" not in client.esmtp_features
    with pytest.raises(smtplib.SMTPNotSupportedError):
        client.starttls()


def test_require_auth_false_accepts_anonymous_mail(acumbamail_relay_factory, connect):
    relay = acumbamail_relay_factory(require_auth=False, starttls=False)
    client = connect(relay, tls=None, login=False)
    assert send(client, build_message(), ["a@example.com"])[0] == 250
    [message] = relay.wait_for(1)
    assert message.authenticated_as is None
    assert message.tls is False


def test_a_client_without_the_ca_fails_verification(acumbamail_relay):
    with smtplib.SMTP(acumbamail_relay.host, acumbamail_relay.port, timeout=10) as client:
        with pytest.raises(ssl.SSLCertVerificationError):
            client.starttls(context=ssl.create_default_context())
    with pytest.raises(ssl.SSLCertVerificationError):
        smtplib.SMTP_SSL(
            acumbamail_relay.host, acumbamail_relay.tls_port, context=ssl.create_default_context(), timeout=10
        )


def test_the_certificate_is_valid_for_localhost_too(acumbamail_relay):
    context = ssl.create_default_context(cafile=acumbamail_relay.ca_file)
    with smtplib.SMTP_SSL("localhost", acumbamail_relay.tls_port, context=context, timeout=10) as client:
        assert client.noop()[0] == 250


def test_size_limit_is_advertised_and_enforced(acumbamail_relay_factory, connect):
    relay = acumbamail_relay_factory(size_limit=2000)
    client = connect(relay)
    assert client.esmtp_features["size"] == "2000"
    code, _ = client.mail("sender@example.com", ["SIZE=5000"])
    assert code == 552
    code, _ = client.mail("sender@example.com")
    assert code == 250
    assert client.rcpt("a@example.com")[0] == 250
    code, _ = client.data(build_message(body=("x" * 70 + "\r\n") * 60))
    assert code == 552
    assert relay.messages == []
    # the connection is still usable for a message that fits
    assert send(client, build_message(), ["a@example.com"])[0] == 250


@pytest.mark.parametrize("enabled", [True, False])
def test_pipelining_and_smtputf8_follow_the_options(acumbamail_relay_factory, connect, enabled):
    relay = acumbamail_relay_factory(pipelining=enabled, smtputf8=enabled)
    client = connect(relay)
    assert ("pipelining" in client.esmtp_features) is enabled
    assert ("smtputf8" in client.esmtp_features) is enabled


def test_smtputf8_message_is_recorded(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    data = "From: sénder@exámple.com\r\nTo: ñandú@exámple.com\r\nSubject: ¡Hola!\r\n\r\nCañón\r\n".encode()
    code, _ = client.mail("sénder@exámple.com", ["SMTPUTF8", "BODY=8BITMIME"])
    assert code == 250
    assert client.rcpt("ñandú@exámple.com")[0] == 250
    assert client.data(data)[0] == 250
    [message] = acumbamail_relay.wait_for(1)
    assert message.smtputf8 is True
    assert message.mail_from == "sénder@exámple.com"
    assert message.rcpt_tos == ["ñandú@exámple.com"]
    assert message.subject == "¡Hola!"


def _read_reply(stream) -> bytes:
    lines = []
    while True:
        line = stream.readline()
        assert line, "connection closed"
        lines.append(line)
        if line[3:4] == b" ":
            return b"".join(lines)


def test_pipelined_commands_get_one_reply_each(acumbamail_relay):
    relay = acumbamail_relay
    context = ssl.create_default_context(cafile=relay.ca_file)
    raw = socket.create_connection((relay.host, relay.tls_port), timeout=10)
    with context.wrap_socket(raw, server_hostname=relay.host) as sock:
        stream = sock.makefile("rb")
        assert _read_reply(stream).startswith(b"220 ")
        token = base64.b64encode(f"\0{relay.username}\0{relay.password}".encode())
        sock.sendall(b"EHLO client.example.com\r\nAUTH PLAIN " + token + b"\r\n")
        assert b"250-PIPELINING" in _read_reply(stream)
        assert _read_reply(stream).startswith(b"235 ")
        sock.sendall(
            b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<a@example.com>\r\n"
            b"RCPT TO:<b@example.com>\r\nDATA\r\n"
        )
        replies = [_read_reply(stream)[:3] for _ in range(4)]
        assert replies == [b"250", b"250", b"250", b"354"]
        sock.sendall(build_message() + b".\r\nQUIT\r\n")
        assert _read_reply(stream).startswith(b"250 2.0.0 Ok: queued as ")
        assert _read_reply(stream).startswith(b"221")
    assert relay.wait_for(1)[0].rcpt_tos == ["a@example.com", "b@example.com"]


def test_sessions_count_connections(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    send(client, build_message("one"), ["a@example.com"])
    send(client, build_message("two"), ["a@example.com"])
    assert acumbamail_relay.sessions == 1
    connect(acumbamail_relay, tls="implicit")
    assert acumbamail_relay.sessions == 2


def test_clear_and_wait_for(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    send(client, build_message(), ["a@example.com"])
    assert len(acumbamail_relay.wait_for(1)) == 1
    acumbamail_relay.clear()
    assert acumbamail_relay.messages == []
    with pytest.raises(AssertionError, match="expected at least 1 message"):
        acumbamail_relay.wait_for(1, timeout=0.05)


async def test_aiosmtplib_starttls_and_implicit_tls(acumbamail_relay):
    relay = acumbamail_relay
    context = ssl.create_default_context(cafile=relay.ca_file)
    data = build_message("async")
    errors, reply = await aiosmtplib.send(
        data, sender="sender@example.com", recipients=["a@example.com"], hostname=relay.host,
        port=relay.port, start_tls=True, tls_context=context, username=relay.username,
        password=relay.password, timeout=10,
    )
    assert errors == {}
    assert "queued as" in reply
    errors, reply = await aiosmtplib.send(
        data, sender="sender@example.com", recipients=["b@example.com"], hostname=relay.host,
        port=relay.tls_port, use_tls=True, tls_context=context, username=relay.username,
        password=relay.password, timeout=10,
    )
    assert errors == {}
    messages = relay.wait_for(2)
    assert [m.rcpt_tos for m in messages] == [["a@example.com"], ["b@example.com"]]
    assert reply.endswith(messages[1].id)


def test_client_config_reaches_the_relay(acumbamail_relay):
    relay = acumbamail_relay
    config = relay.client_config()
    assert isinstance(config, RelayConfig)
    assert (config.host, config.port, config.security) == ("127.0.0.1", relay.port, "starttls")
    assert (config.username, config.password, config.ca_file) == (relay.username, "test-password", relay.ca_file)
    assert config.timeout == 10
    assert config.retry_backoff == 0.01
    assert "test-password" not in repr(config)
    tls = relay.tls_client_config(max_tries=1)
    assert (tls.port, tls.security, tls.max_tries) == (relay.tls_port, "tls", 1)
    assert relay.client_config(port=relay.tls_port).security == "tls"
    # the config's own TLS context verifies the relay's certificate
    with smtplib.SMTP_SSL(tls.host, tls.port, context=tls.create_ssl_context(), timeout=10) as client:
        client.login(config.username, config.password)
    with smtplib.SMTP(config.host, config.port, timeout=10) as client:
        client.starttls(context=config.create_ssl_context())
        client.login(config.username, config.password)


def test_custom_credentials(acumbamail_relay_factory, connect):
    relay = acumbamail_relay_factory(username="shop@example.org", password="another-secret")
    client = connect(relay)
    send(client, build_message(), ["a@example.com"])
    assert relay.wait_for(1)[0].authenticated_as == "shop@example.org"
    assert "another-secret" not in repr(relay)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"auth_mechanisms": ("CRAM-MD5",)},
        {"auth_mechanisms": ()},
        {"size_limit": -1},
        {"username": ""},
        {"webhook_url": "ftp://127.0.0.1/x"},
        {"webhook_url": "http://127.0.0.1:1/", "webhook_batch_size": 0},
        {"webhook_signing_secret": "whsec_AAAA"},
        {"reply_delay": -1},
        {"port": 70000},
    ],
)
def test_bad_options_raise_value_error(kwargs):
    with pytest.raises(ValueError):
        FakeRelay(**kwargs)
