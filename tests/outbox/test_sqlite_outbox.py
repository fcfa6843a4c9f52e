"""The SQLite outbox: enqueue validates first, a drain over the fake relay delivers each message
once and marks it with the relay's reply, suppression is checked at send time."""

from __future__ import annotations

from collections import Counter

import pytest
from acumbamail_smtp import InvalidMessage, Mailer, SQLiteEventStore
from acumbamail_smtp.outbox import Outbox, drain
from acumbamail_smtp.testserver import FakeRelay

from .conftest import message, relay_ids


def test_an_invalid_message_stores_nothing(outbox: Outbox) -> None:
    with pytest.raises(InvalidMessage):
        outbox.enqueue([message(1), message(2, to="not an address")])
    assert outbox.stats().queued == 0
    assert outbox.list() == []


def test_drain_delivers_each_message_once(outbox: Outbox, store: SQLiteEventStore, relay: FakeRelay) -> None:
    ids = outbox.enqueue([message(n, category="orders") for n in range(30)], priority=1)
    assert outbox.stats().queued == 30
    report = drain(outbox, Mailer(relay.client_config(), store=store), batch=7)
    assert (report.sent, report.retried, report.failed, report.ambiguous) == (30, 0, 0, 0)
    assert relay_ids(relay) == Counter(ids)
    stats = outbox.stats()
    assert (stats.queued, stats.in_flight, stats.sent, stats.oldest_queued_age) == (0, 0, 30, None)
    sent = outbox.list("sent", limit=100)
    assert {item.queue_id for item in sent} == {m.id for m in relay.messages}
    assert {r.message_id for r in store.sends()} == set(ids)  # recorded, so events join as today
    assert drain(outbox, Mailer(relay.client_config())).sent == 0


def test_suppression_is_checked_at_send_time(outbox: Outbox, store: SQLiteEventStore, relay: FakeRelay) -> None:
    outbox.enqueue([message(1), message(2)])
    store.suppress("user2@example.com", "hard_bounce")
    report = drain(outbox, Mailer(relay.client_config(), store=store))
    assert (report.sent, report.failed) == (1, 1)
    assert [m.rcpt_tos for m in relay.messages] == [["user1@example.com"]]
    [failed] = outbox.list("failed")
    assert failed.recipients == ["user2@example.com"]
    assert "suppressed" in (failed.last_error or "")
