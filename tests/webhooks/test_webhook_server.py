"""The standalone :class:`WebhookServer` over real sockets on 127.0.0.1: chunked bodies, a token
with reserved characters in the path, and a few hundred posts at once."""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from acumbamail_smtp import EventType, SQLiteEventStore, WebhookReceiver, WebhookVerifier
from acumbamail_smtp.webhooks.server import WebhookServer

from tests.webhooks.helpers import TOKEN, acumba, batch

MAX_BODY = 4096


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        yield store


@pytest.fixture
def server(store: SQLiteEventStore) -> Iterator[WebhookServer]:
    with WebhookServer(WebhookReceiver(store, WebhookVerifier(token=TOKEN), max_body=MAX_BODY)) as server:
        yield server


def exchange(server: WebhookServer, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Send ``raw`` (a whole HTTP request) and read the one answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)  # a body cut short ends here, not at a timeout
        response = http.client.HTTPResponse(sock)
        response.begin()
        payload = response.read()
        return response.status, json.loads(payload) if payload.startswith(b"{") else {}


def chunked(body: bytes, size: int = 7) -> bytes:
    pieces = [body[i:i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\nX-Trailer: t\r\n\r\n"


def request(path: str, body: bytes, headers: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n{headers}"
            "\r\n").encode() + body


def test_a_chunked_post_is_read_and_stored(server: WebhookServer, store: SQLiteEventStore) -> None:
    body = batch(acumba("delivered", "a@example.com"), acumba("opens", "b@example.com"))
    status, answer = exchange(server, request(f"/webhooks/{TOKEN}", chunked(body), "Transfer-Encoding: chunked\r\n"))
    assert (status, answer["stored"]) == (200, 2)
    assert sorted(e.type for e in store.events()) == [EventType.DELIVERED, EventType.OPENED]


def test_a_chunked_post_with_http_client_on_a_kept_alive_connection(server: WebhookServer,
                                                                    store: SQLiteEventStore) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for email in ("a@example.com", "b@example.com"):
            parts = iter([batch(acumba("opens", email))[:9], batch(acumba("opens", email))[9:]])
            connection.request("POST", f"/webhooks/{TOKEN}", body=parts, encode_chunked=True,
                               headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            assert (response.status, json.loads(response.read())["stored"]) == (200, 1)
    finally:
        connection.close()
    assert sorted(e.recipient for e in store.events()) == ["a@example.com", "b@example.com"]


@pytest.mark.parametrize(("framing", "headers", "status"), [
    (chunked(b"[" * (MAX_BODY + 10), 1000), "Transfer-Encoding: chunked\r\n", 413),
    (b"zz\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n", 400),
    (b"10\r\n{}", "Transfer-Encoding: chunked\r\n", 400),
    (b"2\r\n{}\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 14\r\n", 400),
    (b"{}", "Transfer-Encoding: gzip\r\n", 501),
])
def test_bad_or_oversized_chunked_bodies_are_refused(server: WebhookServer, store: SQLiteEventStore,
                                                     framing: bytes, headers: str, status: int) -> None:
    assert exchange(server, request(f"/webhooks/{TOKEN}", framing, headers + "Connection: close\r\n"))[0] == status
    assert list(store.events()) == []


def test_a_percent_encoded_token_in_the_path_verifies(store: SQLiteEventStore) -> None:
    token = "t/k?n#x%y&z=é 1"
    receiver = WebhookReceiver(store, WebhookVerifier(token=token))
    with WebhookServer(receiver) as server:
        body = batch(acumba("opens", "a@example.com"))
        length = f"Content-Length: {len(body)}\r\nConnection: close\r\n"
        assert exchange(server, request(server.url(quote(token, safe="")), body, length)) == (
            200, {"status": "ok", "received": 1, "stored": 1, "duplicates": 0, "suppressed": 0})
        assert exchange(server, request(server.url(quote(token + "x", safe="")), body, length))[0] == 403
    assert len(list(store.events())) == 1


POSTS = 300


def test_a_few_hundred_concurrent_posts_are_each_answered_and_stored_once(
        server: WebhookServer, store: SQLiteEventStore) -> None:
    """Every client connects at once (a barrier), so the listen backlog has to hold the burst."""
    start = threading.Barrier(POSTS, timeout=30)

    def post(number: int) -> int:
        body = batch(acumba("delivered", f"r{number}@example.com", timestamp=1734436800 + number))
        raw = request(f"/webhooks/{TOKEN}", body, f"Content-Length: {len(body)}\r\nConnection: close\r\n")
        start.wait()
        return exchange(server, raw)[0]

    with ThreadPoolExecutor(max_workers=POSTS) as pool:
        answers = list(pool.map(post, range(POSTS)))
    assert answers == [200] * POSTS
    stored = [e.recipient for e in store.events()]
    assert sorted(stored) == sorted(f"r{n}@example.com" for n in range(POSTS))
