"""The fake relay posts Acumbamail-shaped webhook events, batched, retried, optionally signed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.testserver.relay_helpers import build_message, send

EVENT_KEYS = {"email_key", "timestamp", "email", "event", "campaign_id", "list_id", "subscriber_fields"}


def test_delivered_events_in_acumbamail_batch_format(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    client = connect(relay)
    _, reply = send(client, build_message(), ["a@example.com", "b@example.com"])
    relay.flush_webhooks()

    queue_id = reply.decode().rsplit(" ", 1)[1]
    [(headers, body)] = receiver.requests
    assert headers["content-type"] == "application/json"
    assert "webhook-signature" not in headers
    batch = json.loads(body)
    assert list(batch) == ["1", "2"]
    for key, email in (("1", "a@example.com"), ("2", "b@example.com")):
        event = batch[key]
        assert set(event) == EVENT_KEYS
        assert event["event"] == "delivered"
        assert event["email"] == email
        assert event["email_key"] == queue_id
        assert isinstance(event["timestamp"], float)
        assert (event["campaign_id"], event["list_id"], event["subscriber_fields"]) == (None, None, {})
    assert relay.events == list(batch.values())
    assert relay.webhook_deliveries == [(200, body)]


def test_bounces_at_rcpt_carry_the_queue_id_of_the_accepted_message(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    relay.hard_bounce("hard@example.com")
    relay.soft_bounce("soft@example.com")
    client = connect(relay)
    _, reply = send(client, build_message(), ["hard@example.com", "ok@example.com", "soft@example.com"])
    relay.flush_webhooks()
    queue_id = reply.decode().rsplit(" ", 1)[1]
    got = {(e["email"], e["event"], e["email_key"]) for e in receiver.events()}
    assert got == {
        ("ok@example.com", "delivered", queue_id),
        ("hard@example.com", "hard_bounces", queue_id),
        ("soft@example.com", "soft_bounces", queue_id),
    }


def test_bounces_of_a_message_never_accepted_have_an_empty_key(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    relay.hard_bounce("gone@example.com")
    client = connect(relay)
    client.mail("sender@example.com")
    assert client.rcpt("gone@example.com")[0] == 550
    client.rset()
    relay.refuse_recipient("busy@example.com", code=450, text="4.2.1 try later")
    client.mail("sender@example.com")
    assert client.rcpt("busy@example.com")[0] == 450
    client.quit()
    relay.flush_webhooks()
    events = [(e["email"], e["event"], e["email_key"]) for e in receiver.events()]
    assert events == [("gone@example.com", "hard_bounces", ""), ("busy@example.com", "soft_bounces", "")]
    assert relay.messages == []


def test_async_bounce_replaces_delivered(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    relay.hard_bounce("later@example.com", at="async")
    relay.soft_bounce("full@example.com", at="async")
    client = connect(relay)
    _, reply = send(client, build_message(), ["later@example.com", "full@example.com", "ok@example.com"])
    relay.flush_webhooks()
    queue_id = reply.decode().rsplit(" ", 1)[1]
    assert relay.wait_for(1)[0].rcpt_tos == ["later@example.com", "full@example.com", "ok@example.com"]
    assert [(e["email"], e["event"], e["email_key"]) for e in receiver.events()] == [
        ("later@example.com", "hard_bounces", queue_id),
        ("full@example.com", "soft_bounces", queue_id),
        ("ok@example.com", "delivered", queue_id),
    ]


def test_scripted_open_click_and_complaint(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    client = connect(relay)
    send(client, build_message("old"), ["a@example.com"])
    _, reply = send(client, build_message("new"), ["A@example.com"])
    latest = reply.decode().rsplit(" ", 1)[1]
    relay.flush_webhooks()
    receiver.requests.clear()

    opened = relay.emit_open("a@example.com")
    relay.emit_click("a@example.com", "https://shop.example.com/offer?x=1")
    relay.emit_complaint("a@example.com", queue_id="CUSTOM000001")
    relay.flush_webhooks()

    assert opened["event"] == "opens"
    events = receiver.events()
    assert [(e["event"], e["email_key"]) for e in events] == [
        ("opens", latest), ("clicks", latest), ("complaints", "CUSTOM000001"),
    ]
    assert events[1]["url"] == "https://shop.example.com/offer?x=1"
    assert "url" not in events[0]


def test_scripted_event_for_an_unknown_recipient_needs_a_queue_id(acumbamail_relay):
    with pytest.raises(ValueError, match="nobody@example.com"):
        acumbamail_relay.emit_open("nobody@example.com")
    assert acumbamail_relay.emit_open("nobody@example.com", queue_id="ABC")["email_key"] == "ABC"
    acumbamail_relay.flush_webhooks()  # no webhook_url: nothing to wait for
    assert acumbamail_relay.webhook_deliveries == []
    assert [e["event"] for e in acumbamail_relay.events] == ["opens"]


def test_failed_posts_are_retried_until_acknowledged(acumbamail_relay_factory, connect, receiver):
    receiver.statuses = [500, "drop", 503]
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    client = connect(relay)
    send(client, build_message(), ["a@example.com", "b@example.com"])
    relay.flush_webhooks()

    assert [status for status, _ in relay.webhook_deliveries] == [500, None, 503, 200]
    bodies = [body for _, body in relay.webhook_deliveries]
    assert len(set(bodies)) == 1  # the same batch each time, nothing lost or reordered
    assert [e["email"] for e in json.loads(bodies[-1]).values()] == ["a@example.com", "b@example.com"]
    assert len(receiver.requests) == 4


def test_batches_hold_at_most_batch_size_events_in_order(acumbamail_relay_factory, connect, receiver):
    relay = acumbamail_relay_factory(webhook_url=receiver.url, webhook_batch_size=2)
    client = connect(relay)
    recipients = [f"r{i}@example.com" for i in range(5)]
    send(client, build_message(), recipients)
    relay.flush_webhooks()
    bodies = receiver.bodies()
    assert all(1 <= len(batch) <= 2 for batch in bodies)
    assert all(list(batch) == [str(i) for i in range(1, len(batch) + 1)] for batch in bodies)
    assert [e["email"] for e in receiver.events()] == recipients


def test_flush_times_out_with_a_clear_error_when_the_receiver_keeps_failing(acumbamail_relay_factory, receiver):
    receiver.statuses = [500] * 1000
    relay = acumbamail_relay_factory(webhook_url=receiver.url)
    relay.emit_open("a@example.com", queue_id="Q1")
    with pytest.raises(AssertionError, match=r"1 webhook event\(s\) still unacknowledged") as info:
        relay.flush_webhooks(timeout=0.2)
    assert "s3cret" not in str(info.value)  # the URL's token stays out of messages
    assert "s3cret" not in repr(relay._emitter)


def test_signed_posts_verify_with_the_standard_webhooks_scheme(acumbamail_relay_factory, connect, receiver):
    key = b"0123456789abcdef0123456789abcdef"
    secret = "whsec_" + base64.b64encode(key).decode()
    receiver.statuses = [500]
    relay = acumbamail_relay_factory(webhook_url=receiver.url, webhook_signing_secret=secret)
    client = connect(relay)
    send(client, build_message(), ["a@example.com"])
    relay.flush_webhooks()

    assert len(receiver.requests) == 2
    ids = set()
    for headers, body in receiver.requests:
        msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
        ids.add(msg_id)
        assert timestamp.isdigit()
        version, signature = headers["webhook-signature"].split(",", 1)
        assert version == "v1"
        expected = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        assert hmac.compare_digest(base64.b64decode(signature), expected)
        forged = hmac.new(b"wrong key", f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        assert base64.b64decode(signature) != forged
    assert len(ids) == 1  # a retry keeps its webhook-id


@pytest.mark.parametrize("secret", ["whsec_", "whsec_***not base64***", ""])
def test_bad_signing_secret_is_refused_without_echoing_it(secret):
    with pytest.raises(ValueError) as info:
        FakeRelay(webhook_url="http://127.0.0.1:9/", webhook_signing_secret=secret)
    assert "not base64***" not in str(info.value)


def test_events_are_kept_while_stopped_and_posted_after_start(connect, receiver):
    relay = FakeRelay(webhook_url=receiver.url)
    relay.emit_open("a@example.com", queue_id="EARLY")
    with pytest.raises(AssertionError, match="not running"):
        relay.flush_webhooks()
    with relay:
        relay.flush_webhooks()
    assert [e["email_key"] for e in receiver.events()] == ["EARLY"]
