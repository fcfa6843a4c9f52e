"""One span per webhook post, over real HTTP posts to the standalone webhook server."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import SQLiteEventStore, WebhookReceiver, WebhookVerifier
from acumbamail_smtp.webhooks.server import WebhookServer

from tests.webhooks.helpers import TOKEN, acumba, batch

from .conftest import Otel


@pytest.fixture
def server(tmp_path: Path) -> Iterator[WebhookServer]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store, \
            WebhookServer(WebhookReceiver(store, WebhookVerifier(token=TOKEN))) as server:
        yield server


def post(server: WebhookServer, path: str, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_a_post_is_one_span_with_counts_store_time_and_answer(otel: Otel, server: WebhookServer) -> None:
    body = batch(acumba("delivered", "ana@example.com", key="Q1"), acumba("opened", "ana@example.com", key="Q1"),
                 acumba("delivered", "bob@example.com", key="Q2"))
    assert post(server, f"/webhooks/{TOKEN}", body) == 200
    assert post(server, f"/webhooks/{TOKEN}", body) == 200  # the same events again: duplicates
    first, again = otel.spans("acumbamail_smtp.webhook")
    attrs = first.attributes or {}
    assert attrs["acumbamail_smtp.webhook.received"] == 3
    assert attrs["acumbamail_smtp.webhook.received.delivered"] == 2
    assert attrs["acumbamail_smtp.webhook.received.opened"] == 1
    assert attrs["acumbamail_smtp.webhook.store_time"] > 0
    assert attrs["http.response.status_code"] == 200
    assert (again.attributes or {})["acumbamail_smtp.webhook.received"] == 3
    # new events only: the duplicates of the second post are not counted again
    assert otel.total("acumbamail_smtp.webhook.events", **{"acumbamail_smtp.event.type": "delivered"}) == 2
    assert otel.total("acumbamail_smtp.webhook.events", **{"acumbamail_smtp.event.type": "opened"}) == 1


def test_refusals_are_counted_by_reason(otel: Otel, server: WebhookServer) -> None:
    assert post(server, "/webhooks/wrong-token", batch(acumba("delivered", "ana@example.com"))) == 403
    assert post(server, f"/webhooks/{TOKEN}", b"{not json") == 400
    spans = otel.spans("acumbamail_smtp.webhook")
    assert [(s.attributes or {})["http.response.status_code"] for s in spans] == [403, 400]
    assert otel.total("acumbamail_smtp.webhook.refusals", **{"acumbamail_smtp.reason": "forbidden"}) == 1
    assert otel.total("acumbamail_smtp.webhook.refusals", **{"acumbamail_smtp.reason": "bad_payload"}) == 1
    assert "acumbamail_smtp.webhook.events" not in otel.points()


async def test_ahandle_has_the_same_span(otel: Otel, tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
        answer = await receiver.ahandle(batch(acumba("hard_bounce", "ana@example.com")),
                                        content_type="application/json", path_token=TOKEN)
    assert answer.status == 200
    (span,) = otel.spans("acumbamail_smtp.webhook")
    assert (span.attributes or {})["acumbamail_smtp.webhook.received.hard_bounce"] == 1
    assert otel.total("acumbamail_smtp.webhook.events", **{"acumbamail_smtp.event.type": "hard_bounce"}) == 1
