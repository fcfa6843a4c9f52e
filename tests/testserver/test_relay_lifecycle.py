"""Starting and stopping the fake relay: fresh ports and certificates, nothing left behind."""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
import threading

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.testserver.relay_helpers import build_message, send


def relay_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("fake-relay")]


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_start_stop_is_idempotent_and_leaves_nothing_behind(receiver):
    before = relay_threads()
    relay = FakeRelay(webhook_url=receiver.url)
    with pytest.raises(RuntimeError, match="not running"):
        _ = relay.port
    assert relay.start() is relay
    ports = (relay.port, relay.tls_port, relay.http_port)
    ca_file = relay.ca_file
    assert relay.host == "127.0.0.1"
    assert len(set(ports)) == 3
    assert os.path.isfile(ca_file)
    assert relay.start() is relay  # a second start changes nothing
    assert relay.port == ports[0]
    assert len(relay_threads()) == len(before) + 3  # SMTP loop, HTTP, webhooks

    relay.stop()
    relay.stop()
    assert relay_threads() == before
    assert not os.path.exists(ca_file)
    assert all(refused(port) for port in ports)
    assert not relay.running


def test_context_manager_and_restart(connect):
    relay = FakeRelay()
    with relay:
        first_ca = relay.ca_file
        send(connect(relay), build_message("one"), ["a@example.com"])
    assert not relay.running
    with relay:
        assert relay.ca_file != first_ca  # a fresh certificate authority each start
        send(connect(relay), build_message("two"), ["a@example.com"])
        assert [m.subject for m in relay.messages] == ["one", "two"]


def test_every_listener_binds_loopback_only(acumbamail_relay):
    relay = acumbamail_relay
    addresses = [sock.getsockname()[0] for server in relay._servers for sock in server.sockets]
    assert addresses == ["127.0.0.1", "127.0.0.1"]
    assert relay._http_server.server_address[0] == "127.0.0.1"
    assert relay.http_url.startswith("http://127.0.0.1:")


def test_stop_does_not_hang_on_open_or_stalled_connections():
    relay = FakeRelay(reply_delay=30).start()
    context = ssl.create_default_context(cafile=relay.ca_file)
    idle = smtplib.SMTP(relay.host, relay.port, timeout=10)
    stalled = smtplib.SMTP_SSL(relay.host, relay.tls_port, context=context, timeout=10)
    stalled.login(relay.username, relay.password)
    stalled.putcmd("MAIL FROM:<a@example.com>")  # the reply is 30 s away
    half = socket.create_connection((relay.host, relay.tls_port))  # never finishes the TLS handshake
    try:
        relay.stop()
        with pytest.raises(smtplib.SMTPServerDisconnected):
            stalled.getreply()
    finally:
        for client in (idle, stalled):
            client.close()
        half.close()
    assert relay_threads() == []


def test_fixed_ports_are_honoured():
    with FakeRelay() as probe:  # find three free ports by letting the OS choose, then reuse them
        ports = (probe.port, probe.tls_port, probe.http_port)
    with FakeRelay(port=ports[0], tls_port=ports[1], http_port=ports[2]) as relay:
        assert (relay.port, relay.tls_port, relay.http_port) == ports


def test_a_busy_port_fails_start_cleanly():
    with FakeRelay() as running:
        other = FakeRelay(tls_port=running.tls_port)
        before = relay_threads()
        with pytest.raises(OSError):
            other.start()
        assert relay_threads() == before
        assert not other.running
