"""Suppression: which events put an address on the list, the soft-bounce policy, and the mailer
skipping suppressed recipients over real SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from acumbamail_smtp import (
    ConfigError,
    EventType,
    Mailer,
    Message,
    RecipientsRefused,
    SQLiteEventStore,
    SuppressionPolicy,
    apply_suppression,
)
from acumbamail_smtp.testserver import FakeRelay

from tests.webhooks.helpers import T0, event


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        yield store


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"soft_bounce_limit": 0}, "soft_bounce_limit"),
    ({"soft_bounce_limit": True}, "soft_bounce_limit"),
    ({"soft_bounce_limit": "3"}, "soft_bounce_limit"),
    ({"soft_bounce_days": 0}, "soft_bounce_days"),
    ({"soft_bounce_days": 1.5}, "soft_bounce_days"),
])
def test_policy_validation(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        SuppressionPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.field == field


def test_only_hard_bounces_and_complaints_suppress_by_default(store: SQLiteEventStore) -> None:
    items = [event(kind, f"{kind}@example.com") for kind in EventType]
    new = store.store_events(items).new
    added = apply_suppression(store, new)
    assert sorted(added) == ["complaint@example.com", "hard_bounce@example.com"]
    reasons = {s.address: (s.reason, s.event_id) for s in store.suppressions()}
    by_type = {e.type: e.event_id for e in items}
    assert reasons == {"hard_bounce@example.com": ("hard_bounce", by_type[EventType.HARD_BOUNCE]),
                       "complaint@example.com": ("complaint", by_type[EventType.COMPLAINT])}


def test_already_suppressed_addresses_are_not_reported_again(store: SQLiteEventStore) -> None:
    store.suppress("a@example.com", "manual")
    new = store.store_events([event(EventType.HARD_BOUNCE, "A@example.com")]).new
    assert apply_suppression(store, new) == []
    (entry,) = store.suppressions()
    assert entry.reason == "manual"


def test_soft_bounce_limit_of_one(store: SQLiteEventStore) -> None:
    new = store.store_events([event(EventType.SOFT_BOUNCE, "s@example.com", T0)]).new
    assert apply_suppression(store, new, SuppressionPolicy(soft_bounce_limit=1)) == ["s@example.com"]


def test_soft_bounces_of_other_addresses_do_not_count(store: SQLiteEventStore) -> None:
    policy = SuppressionPolicy(soft_bounce_limit=2, soft_bounce_days=7)
    store.store_events([event(EventType.SOFT_BOUNCE, "other@example.com", T0)])
    new = store.store_events([event(EventType.SOFT_BOUNCE, "s@example.com", T0 + timedelta(hours=1))]).new
    assert apply_suppression(store, new, policy) == []
    more = store.store_events([event(EventType.SOFT_BOUNCE, "s@example.com", T0 + timedelta(hours=2))]).new
    assert apply_suppression(store, more, policy) == ["s@example.com"]


def test_mailer_skips_suppressed_recipients(store: SQLiteEventStore,
                                            acumbamail_relay: FakeRelay) -> None:
    store.suppress("Gone@Example.com", "hard_bounce")
    with Mailer(acumbamail_relay.client_config(), store=store) as mailer:
        result = mailer.send(Message(from_email="shop@example.com", to=["ana@example.com", "gone@example.com"],
                                     subject="Hi", text="Hello", category="NEWS"))
        with pytest.raises(RecipientsRefused) as info:
            mailer.send(Message(from_email="shop@example.com", to="GONE@example.com", subject="Hi", text="x"))
    assert result.suppressed == ["gone@example.com"]
    assert info.value.result.suppressed == ["GONE@example.com"]
    (received,) = acumbamail_relay.messages
    assert received.rcpt_tos == ["ana@example.com"]
    statuses = [(s.recipient, s.status, s.queue_id) for s in store.sends()]
    assert statuses == [("ana@example.com", "sent", received.id), ("gone@example.com", "suppressed", received.id),
                        ("gone@example.com", "suppressed", None)]

