"""The contract every EventStore passes, whatever its database.

Use it by subclassing :class:`EventStoreContract` in a ``Test...`` class and overriding the
``store_factory`` fixture: it returns a callable that opens a *new* store object on one shared,
initially empty database (two calls give two stores on the same data)::

    from tests.webhooks.store_contract import EventStoreContract

    class TestMyStore(EventStoreContract):
        @pytest.fixture
        def store_factory(self, tmp_path):
            return lambda: MyStore(tmp_path / "events.db")
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from acumbamail_smtp import (
    ConfigError,
    EventStore,
    EventType,
    Reply,
    SuppressionPolicy,
    WebhookReceiver,
    WebhookVerifier,
    apply_suppression,
)

from tests.webhooks.helpers import T0, TOKEN, acumba, at, batch, event, send_result

StoreFactory = Callable[[], EventStore]


class EventStoreContract:
    """Behaviour shared by every :class:`~acumbamail_smtp.EventStore` implementation."""

    @pytest.fixture
    def store_factory(self) -> StoreFactory:
        raise NotImplementedError("override store_factory in the Test class")

    @pytest.fixture
    def store(self, store_factory: StoreFactory) -> Iterator[EventStore]:
        store = store_factory()
        yield store
        store.close()

    # -- shape -----------------------------------------------------------------------------------

    def test_is_an_event_store(self, store: EventStore) -> None:
        assert isinstance(store, EventStore)

    # -- sends -----------------------------------------------------------------------------------

    def test_record_sends_writes_one_row_per_recipient_with_its_status(self, store: EventStore) -> None:
        result = send_result(
            accepted=["Ana@Example.com", "bo@example.com"],
            refused={"cy@example.com": Reply(550, "5.1.1 no such user")},
            suppressed=["dee@example.com"], queue_id="QA", category="SIGNUP")
        store.record_sends([result])
        rows = {r.recipient: r for r in store.sends()}
        assert set(rows) == {"ana@example.com", "bo@example.com", "cy@example.com", "dee@example.com"}
        assert rows["ana@example.com"].status == "sent"
        assert rows["cy@example.com"].status == "refused"
        assert (rows["cy@example.com"].reply_code, rows["cy@example.com"].reply_text) == (550, "5.1.1 no such user")
        assert rows["dee@example.com"].status == "suppressed"
        for row in rows.values():
            assert row.message_id == "<m1@example.com>"
            assert row.queue_id == "QA"
            assert row.category == "SIGNUP"
            assert row.sent_at == T0
            assert row.sent_at.utcoffset() == timedelta(0)

    def test_sends_filters(self, store: EventStore) -> None:
        store.record_sends([
            send_result("<a@x>", accepted=["ana@example.com"], category="A", sent_at=at(0), queue_id="Q1"),
            send_result("<b@x>", accepted=["bo@example.com"], category="B", sent_at=at(10), queue_id="Q2"),
            send_result("<c@x>", accepted=[], refused={"ana@example.com": Reply(550, "no")},
                        category="A", sent_at=at(20), queue_id=None),
        ])
        assert [s.message_id for s in store.sends()] == ["<a@x>", "<b@x>", "<c@x>"]
        assert [s.message_id for s in store.sends(category="A")] == ["<a@x>", "<c@x>"]
        assert [s.message_id for s in store.sends(recipient="ANA@example.com")] == ["<a@x>", "<c@x>"]
        assert [s.message_id for s in store.sends(status="refused")] == ["<c@x>"]
        assert [s.message_id for s in store.sends(since=at(10))] == ["<b@x>", "<c@x>"]
        assert [s.message_id for s in store.sends(until=at(10))] == ["<a@x>"]
        assert list(store.sends(since=at(21))) == []
        with pytest.raises(ConfigError, match="status"):
            list(store.sends(status="bounced"))
        with pytest.raises(ConfigError, match="timezone-aware"):
            list(store.sends(since=T0.replace(tzinfo=None)))

    # -- events ----------------------------------------------------------------------------------

    def test_store_events_stores_each_event_once(self, store: EventStore) -> None:
        first = event(EventType.DELIVERED, when=at(1), key="Q1")
        second = event(EventType.OPENED, when=at(2), key="Q1")
        outcome = store.store_events([first, second, first])  # a duplicate inside the batch too
        assert [e.event_id for e in outcome.new] == [first.event_id, second.event_id]
        assert [e.event_id for e in outcome.duplicates] == [first.event_id]
        again = store.store_events([second])
        assert again.new == []
        assert [e.event_id for e in again.duplicates] == [second.event_id]
        assert [e.event_id for e in store.events()] == [first.event_id, second.event_id]

    def test_duplicates_are_seen_across_store_objects(self, store_factory: StoreFactory) -> None:
        one, two = store_factory(), store_factory()
        try:
            item = event(EventType.CLICKED, url="https://shop.example.com/x")
            assert len(one.store_events([item]).new) == 1
            assert len(two.store_events([item]).duplicates) == 1
            assert [e.url for e in two.events()] == ["https://shop.example.com/x"]
        finally:
            one.close()
            two.close()

    def test_events_round_trip_every_field(self, store: EventStore) -> None:
        item = event(EventType.CLICKED, recipient="Ana@Example.com", when=at(3), key="Q9",
                     url="https://example.com/a?b=c", event="clicks", campaign_id=7,
                     subscriber_fields={"name": "Ana", "n": 1}, extra_field="kept")
        store.store_events([item])
        (stored,) = list(store.events())
        assert stored.event_id == item.event_id
        assert stored.type is EventType.CLICKED
        assert stored.recipient == "ana@example.com"
        assert stored.timestamp == at(3)
        assert stored.timestamp.utcoffset() == timedelta(0)
        assert stored.message_key == "Q9"
        assert stored.url == "https://example.com/a?b=c"
        assert stored.raw == {"event": "clicks", "campaign_id": 7, "extra_field": "kept",
                              "subscriber_fields": {"name": "Ana", "n": 1}}

    def test_unknown_events_are_stored_with_their_original_name(self, store: EventStore) -> None:
        store.store_events([event(EventType.UNKNOWN, event="bounced_twice")])
        (stored,) = list(store.events(type="unknown"))
        assert stored.type is EventType.UNKNOWN
        assert stored.original_name == "bounced_twice"

    def test_events_filters_and_order(self, store: EventStore) -> None:
        store.record_sends([send_result("<a@x>", accepted=["ana@example.com"], category="A", queue_id="QA"),
                            send_result("<b@x>", accepted=["bo@example.com"], category="B", queue_id="QB")])
        store.store_events([
            event(EventType.OPENED, "bo@example.com", at(5), key="QB"),
            event(EventType.DELIVERED, "ana@example.com", at(1), key="QA"),
            event(EventType.HARD_BOUNCE, "bo@example.com", at(2), key="QB"),
            event(EventType.CLICKED, "ana@example.com", at(9), key="QA", url="https://example.com"),
        ])
        assert [e.type for e in store.events()] == [
            EventType.DELIVERED, EventType.HARD_BOUNCE, EventType.OPENED, EventType.CLICKED]
        assert [e.type for e in store.events(category="A")] == [EventType.DELIVERED, EventType.CLICKED]
        assert [e.type for e in store.events(recipient="BO@example.com")] == [
            EventType.HARD_BOUNCE, EventType.OPENED]
        assert [e.type for e in store.events(type=EventType.OPENED)] == [EventType.OPENED]
        assert [e.type for e in store.events(type="hard_bounces")] == [EventType.HARD_BOUNCE]
        assert [e.type for e in store.events(type=["clicked", "opened"])] == [
            EventType.OPENED, EventType.CLICKED]
        assert [e.type for e in store.events(since=at(2), until=at(9))] == [
            EventType.HARD_BOUNCE, EventType.OPENED]
        with pytest.raises(ConfigError, match="unknown event type"):
            list(store.events(type="bounced"))
        with pytest.raises(ConfigError, match="timezone-aware"):
            list(store.events(until=T0.replace(tzinfo=None)))

    def test_iterators_page_through_many_rows(self, store: EventStore) -> None:
        if hasattr(store, "page_size"):
            store.page_size = 3  # force several pages, with equal timestamps across page edges
        items = [event(EventType.OPENED, f"r{n}@example.com", at(n // 4)) for n in range(11)]
        store.store_events(items)
        assert sorted(e.event_id for e in store.events()) == sorted(e.event_id for e in items)
        assert len(list(store.events())) == 11
        store.record_sends([send_result(f"<{n}@x>", accepted=[f"r{n}@example.com"], sent_at=at(n // 4))
                            for n in range(7)])
        assert len(list(store.sends())) == 7
        for n in range(8):
            store.suppress(f"s{n}@example.com")
        assert [s.address for s in store.suppressions()] == [f"s{n}@example.com" for n in range(8)]

    # -- the join rule ---------------------------------------------------------------------------

    def test_join_by_queue_id(self, store: EventStore) -> None:
        store.record_sends([
            send_result("<first@x>", accepted=["ana@example.com"], queue_id="Q1", category="ONE", sent_at=at(0)),
            send_result("<second@x>", accepted=["ana@example.com"], queue_id="Q2", category="TWO", sent_at=at(5)),
        ])
        (new,) = store.store_events([event(EventType.OPENED, "ana@example.com", at(10), key="Q1")]).new
        assert (new.message_id, new.category) == ("<first@x>", "ONE")
        (stored,) = list(store.events())
        assert (stored.message_id, stored.category) == ("<first@x>", "ONE")

    def test_join_by_queue_id_prefers_the_same_recipient(self, store: EventStore) -> None:
        store.record_sends([send_result("<m@x>", accepted=["ana@example.com", "bo@example.com"],
                                        queue_id="QX", category="C")])
        (new,) = store.store_events([event(EventType.DELIVERED, "bo@example.com", at(1), key="QX")]).new
        assert (new.message_id, new.category) == ("<m@x>", "C")

    def test_join_by_recipient_takes_the_latest_earlier_send(self, store: EventStore) -> None:
        store.record_sends([
            send_result("<old@x>", accepted=["ana@example.com"], queue_id=None, category="OLD", sent_at=at(0)),
            send_result("<mid@x>", accepted=["ana@example.com"], queue_id=None, category="MID", sent_at=at(10)),
            send_result("<new@x>", accepted=["ana@example.com"], queue_id=None, category="NEW", sent_at=at(20)),
            send_result("<bo@x>", accepted=["bo@example.com"], queue_id=None, category="BO", sent_at=at(12)),
            send_result("<ref@x>", accepted=[], refused={"ana@example.com": Reply(550, "no")},
                        queue_id=None, category="REFUSED", sent_at=at(14)),
        ])
        outcome = store.store_events([
            event(EventType.OPENED, "ANA@example.com", at(15)),
            event(EventType.CLICKED, "ana@example.com", at(10), url="https://example.com"),
            event(EventType.DELIVERED, "ana@example.com", at(-3)),
        ])
        joined = [(e.message_id, e.category) for e in outcome.new]
        assert joined == [("<mid@x>", "MID"), ("<mid@x>", "MID"), (None, None)]

    def test_join_by_recipient_allows_two_minutes_of_clock_skew(self, store: EventStore) -> None:
        """A delivery timestamped a little before our recorded send (the sender's clock runs
        behind) joins the earliest send within JOIN_SKEW after it, when none precedes it."""
        store.record_sends([
            send_result("<first@x>", accepted=["ana@example.com"], queue_id=None, category="FIRST", sent_at=at(0)),
            send_result("<second@x>", accepted=["ana@example.com"], queue_id=None, category="SECOND",
                        sent_at=at(1.5)),
            send_result("<ref@x>", accepted=[], refused={"bo@example.com": Reply(550, "no")},
                        queue_id=None, category="REFUSED", sent_at=at(0)),
        ])
        outcome = store.store_events([
            event(EventType.DELIVERED, "ana@example.com", at(-1 / 60)),  # a second early
            event(EventType.OPENED, "ana@example.com", at(-2)),  # exactly the skew: still joined
            event(EventType.CLICKED, "ana@example.com", at(-2.01), url="https://example.com"),  # too early
            event(EventType.DELIVERED, "ana@example.com", at(1)),  # a send precedes it: that one
            event(EventType.DELIVERED, "bo@example.com", at(-1)),  # only a refused send follows
        ])
        joined = [(e.message_id, e.category) for e in outcome.new]
        assert joined == [("<first@x>", "FIRST"), ("<first@x>", "FIRST"), (None, None),
                          ("<first@x>", "FIRST"), (None, None)]
        assert [(e.message_id, e.category) for e in store.events()] == [
            (None, None), ("<first@x>", "FIRST"), (None, None), ("<first@x>", "FIRST"), ("<first@x>", "FIRST")]

    def test_unmatched_queue_id_falls_back_to_the_recipient(self, store: EventStore) -> None:
        store.record_sends([send_result("<m@x>", accepted=["ana@example.com"], queue_id="Q1",
                                        category="C", sent_at=at(0))])
        (new,) = store.store_events([event(EventType.OPENED, "ana@example.com", at(3), key="OTHER")]).new
        assert (new.message_id, new.category) == ("<m@x>", "C")

    def test_events_before_their_send_are_joined_when_it_is_recorded(self, store: EventStore) -> None:
        store.store_events([event(EventType.DELIVERED, "ana@example.com", at(1), key="QLATE")])
        store.record_sends([send_result("<late@x>", accepted=["ana@example.com"], queue_id="QLATE",
                                        category="FAST", sent_at=at(1))])
        (stored,) = list(store.events())
        assert (stored.message_id, stored.category) == ("<late@x>", "FAST")
        assert [e.message_key for e in store.events(category="FAST")] == ["QLATE"]

    # -- suppression -----------------------------------------------------------------------------

    def test_suppress_and_lookup_case_insensitively(self, store: EventStore) -> None:
        assert store.suppress("Ana@Example.COM", "hard_bounce", "ev1") is True
        assert store.suppress("ana@example.com", "complaint") is False  # first entry kept
        assert store.suppressed(["ANA@example.com", "bo@example.com", "Ana <ana@example.com>"]) == {
            "ANA@example.com", "Ana <ana@example.com>"}
        assert store.suppressed([]) == set()
        (entry,) = list(store.suppressions())
        assert (entry.address, entry.reason, entry.event_id) == ("ana@example.com", "hard_bounce", "ev1")
        assert entry.created_at.utcoffset() == timedelta(0)
        assert store.unsuppress("ANA@EXAMPLE.COM") is True
        assert store.unsuppress("ana@example.com") is False
        assert store.suppressed(["ana@example.com"]) == set()

    def test_suppressed_handles_long_lists(self, store: EventStore) -> None:
        for address in ("u7@example.com", "u777@example.com", "u1199@example.com"):
            store.suppress(address)
        addresses = [f"U{n}@example.com" for n in range(1200)]
        assert store.suppressed(addresses) == {"U7@example.com", "U777@example.com", "U1199@example.com"}

    def test_suppress_refuses_bad_input(self, store: EventStore) -> None:
        with pytest.raises(ConfigError, match="reason"):
            store.suppress("ana@example.com", "bored")
        with pytest.raises(ConfigError, match="not an e-mail address"):
            store.suppress("not-an-address")
        assert list(store.suppressions()) == []

    def test_apply_suppression_with_a_soft_bounce_policy(self, store: EventStore) -> None:
        policy = SuppressionPolicy(soft_bounce_limit=3, soft_bounce_days=7)
        days = [0, 1, 9, 10]  # the first two fall out of the 7-day window of the last two
        soft = [event(EventType.SOFT_BOUNCE, "ana@example.com", T0 + timedelta(days=d)) for d in days]
        for item in soft:
            new = store.store_events([item]).new
            assert apply_suppression(store, new, policy) == []
        third = event(EventType.SOFT_BOUNCE, "ana@example.com", T0 + timedelta(days=11))
        assert apply_suppression(store, store.store_events([third]).new, policy) == ["ana@example.com"]
        (entry,) = list(store.suppressions())
        assert (entry.reason, entry.event_id) == ("soft_bounce", third.event_id)

    # -- concurrency -----------------------------------------------------------------------------

    def test_concurrent_burst_through_the_receiver_loses_nothing(self, store: EventStore) -> None:
        receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
        threads, posts = 8, 50
        shared = acumba("opens", "shared@example.com", 1734436800.5, key="QS")
        statuses: list[int] = []
        stored: list[int] = []
        lock = threading.Lock()

        def worker(n: int) -> None:
            for p in range(posts):
                body = batch(acumba("delivered", f"t{n}p{p}@example.com", 1734436800 + p, key=f"Q{n}"),
                             acumba("hard_bounces", f"b{n}p{p}@example.com", 1734436800 + p, key=f"Q{n}"),
                             shared)
                response = receiver.handle(body, content_type="application/json", query={"token": TOKEN})
                with lock:
                    statuses.append(response.status)
                    stored.append(response.body.get("stored", 0))

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(60)
        assert statuses == [200] * (threads * posts)
        expected = threads * posts * 2 + 1
        assert sum(stored) == expected
        assert len(list(store.events())) == expected
        assert len(list(store.events(type="delivered"))) == threads * posts
        assert len(list(store.suppressions())) == threads * posts
