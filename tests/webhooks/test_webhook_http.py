"""The receiver behind real HTTP on 127.0.0.1, hit with urllib, and end to end: the mailer
sends through the fake relay, the relay posts its webhooks to us, the events land in the store."""

from __future__ import annotations

import base64
import json
import sqlite3
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from acumbamail_smtp import (
    EventType,
    Mailer,
    Message,
    SQLiteEventStore,
    WebhookReceiver,
    WebhookVerifier,
)
from acumbamail_smtp.testserver import FakeRelay

from tests.webhooks.helpers import TOKEN, acumba, batch
from tests.webhooks.http_receiver import WebhookHTTPServer

SECRET = "whsec_" + base64.b64encode(b"fake-relay-signing-key-0123").decode()
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def send(url: str, body: bytes, content_type: str = "application/json",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type, **(headers or {})})
    try:
        with NO_PROXY.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            payload = exc.read()
            return exc.code, json.loads(payload) if payload.startswith(b"{") else {}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        yield store


@pytest.fixture
def server(store: SQLiteEventStore) -> Iterator[WebhookHTTPServer]:
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), max_body=4096)
    with WebhookHTTPServer(receiver) as server:
        yield server


def test_json_post_over_http(server: WebhookHTTPServer, store: SQLiteEventStore) -> None:
    status, body = send(server.url(TOKEN), batch(acumba("delivered", "a@example.com"),
                                                 acumba("clicks", "a@example.com", url="https://e.com")))
    assert (status, body["stored"]) == (200, 2)
    assert [e.type for e in store.events()] == [EventType.DELIVERED, EventType.CLICKED]


def test_form_post_with_the_token_in_the_query(server: WebhookHTTPServer, store: SQLiteEventStore) -> None:
    form = urlencode({"event": "opens", "email": "a@example.com", "timestamp": "1734436800"}).encode()
    status, _ = send(f"{server.url()}?{urlencode({'token': TOKEN})}", form, "application/x-www-form-urlencoded")
    assert status == 200
    assert [e.type for e in store.events()] == [EventType.OPENED]


def test_http_refusals(server: WebhookHTTPServer, store: SQLiteEventStore) -> None:
    good = batch(acumba("hard_bounces", "a@example.com"))
    assert send(server.url("wrong-token"), good)[0] == 403
    assert send(server.url(), good)[0] == 401
    status, body = send(server.url(TOKEN), b"{not json")
    assert status == 400
    assert "JSON" in body["error"]
    assert send(server.url(TOKEN), b"x" * 5000)[0] == 413
    with pytest.raises(urllib.error.HTTPError) as info:
        NO_PROXY.open(server.url(TOKEN), timeout=10)
    assert info.value.code == 405
    info.value.close()
    assert list(store.events()) == []
    assert send(server.url(TOKEN), good)[0] == 200


def test_basic_auth_over_http(store: SQLiteEventStore) -> None:
    receiver = WebhookReceiver(store, WebhookVerifier(basic_auth=[("hook", "pw-123456")]))
    with WebhookHTTPServer(receiver) as server:
        body = batch(acumba("opens", "a@example.com"))
        credentials = base64.b64encode(b"hook:pw-123456").decode()
        assert send(server.url(), body)[0] == 401
        assert send(server.url(), body, headers={"Authorization": f"Basic {credentials}"})[0] == 200


# -- end to end with the fake relay ------------------------------------------------------------------


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_fake_relay_posts_events_that_are_joined_and_suppress(
        tmp_path: Path, acumbamail_relay_factory: Callable[..., FakeRelay]) -> None:
    store = SQLiteEventStore(tmp_path / "e2e.sqlite3")
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN, signing_secrets=[SECRET]))
    with WebhookHTTPServer(receiver) as server:
        relay = acumbamail_relay_factory(webhook_url=server.url(TOKEN), webhook_signing_secret=SECRET)
        relay.hard_bounce("gone@example.com", at="async")
        message = Message(from_email="shop@example.com", to=["Ana@example.com", "gone@example.com"],
                          subject="Your order", text="Thanks!", category="ORDER_CONFIRMATION")
        with Mailer(relay.client_config(), store=store) as mailer:
            first = mailer.send(message)
            relay.flush_webhooks()
            relay.emit_open("Ana@example.com")
            relay.emit_click("Ana@example.com", "https://shop.example.com/orders/1")
            relay.flush_webhooks()
            second = mailer.send(Message(from_email="shop@example.com", to=["ana@example.com", "gone@example.com"],
                                         subject="Shipped", text="On its way", category="SHIPPING"))
        assert all(d.status == 200 for d in relay.webhook_deliveries)

        events = list(store.events(category="ORDER_CONFIRMATION"))
        assert sorted((e.recipient, e.type.value) for e in events) == [
            ("ana@example.com", "clicked"), ("ana@example.com", "delivered"), ("ana@example.com", "opened"),
            ("gone@example.com", "hard_bounce")]
        assert {e.message_id for e in events} == {first.message_id}
        assert {e.message_key for e in events} == {first.queue_id}
        assert [e.url for e in events if e.type is EventType.CLICKED] == ["https://shop.example.com/orders/1"]

        assert store.suppressed(["gone@example.com"]) == {"gone@example.com"}
        assert second.suppressed == ["gone@example.com"]
        assert relay.messages[-1].rcpt_tos == ["ana@example.com"]
        assert [(s.recipient, s.status) for s in store.sends(category="SHIPPING")] == [
            ("ana@example.com", "sent"), ("gone@example.com", "suppressed")]
    store.close()


def test_fake_relay_retries_after_a_503_and_nothing_is_lost(
        tmp_path: Path, acumbamail_relay_factory: Callable[..., FakeRelay]) -> None:
    path = tmp_path / "retry.sqlite3"
    store = SQLiteEventStore(path, timeout=0.05)
    with WebhookHTTPServer(WebhookReceiver(store, WebhookVerifier(token=TOKEN))) as server:
        relay = acumbamail_relay_factory(webhook_url=server.url(TOKEN))
        with Mailer(relay.client_config(), store=store) as mailer:
            mailer.send(Message(from_email="shop@example.com", to="ana@example.com", subject="Hi", text="Hello"))
        relay.flush_webhooks()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        try:
            relay.emit_complaint("ana@example.com")
            wait_until(lambda: any(d.status == 503 for d in relay.webhook_deliveries))
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        relay.flush_webhooks()
        assert [e.type for e in store.events(type="complaint")] == [EventType.COMPLAINT]
        assert store.suppressed(["ana@example.com"]) == {"ana@example.com"}
    store.close()


def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send ``head`` and ``body`` on a plain socket; everything the server answers until it closes.
    A client timeout turns a hung server into a test failure rather than a hung test."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("length", ["-1", "-5", "abc", "1e3", "+5", "0x10", " 5 5"])
def test_a_bad_content_length_is_400_not_a_hang(server: WebhookHTTPServer, store: SQLiteEventStore,
                                                length: str) -> None:
    head = (f"POST /webhooks/{TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n").encode()
    answer = raw_request(server.port, head, batch(acumba("hard_bounces", "a@example.com")))
    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert b"Content-Length" in answer
    assert list(store.events()) == []


def test_a_body_shorter_than_its_content_length_is_400(store: SQLiteEventStore) -> None:
    with WebhookHTTPServer(WebhookReceiver(store, WebhookVerifier(token=TOKEN)), timeout=5) as server:
        body = batch(acumba("hard_bounces", "a@example.com"))
        head = (f"POST /webhooks/{TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body) + 50}\r\n\r\n").encode()
        import socket

        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + body)
            sock.shutdown(socket.SHUT_WR)  # the client stops short of what it declared
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
    assert answer.split(b"\r\n", 1)[0].endswith(b"400 Bad Request")
    assert b"shorter than its Content-Length" in answer
    assert list(store.events()) == []


def test_a_stalled_client_is_disconnected_after_the_timeout(store: SQLiteEventStore) -> None:
    import socket

    with WebhookHTTPServer(WebhookReceiver(store, WebhookVerifier(token=TOKEN)), timeout=0.2) as server:
        assert server.timeout == 0.2
        head = (f"POST /webhooks/{TOKEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\nContent-Length: 500\r\n\r\n").encode()
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(head + b'{"1": {"event"')  # ...and then nothing more, socket left open
            assert sock.recv(65536) == b""  # the server hung up, without answering
        assert list(store.events()) == []
        assert send(server.url(TOKEN), batch(acumba("delivered", "a@example.com")))[0] == 200  # still serving
