"""Whole batches through the stores: set-based duplicate detection and joins must give, event by
event, what the join rule and "stored once" promise, on SQLite, SQLAlchemy-on-SQLite and
PostgreSQL (when ACUMBAMAIL_TEST_POSTGRES_URL names a server), plus the fast paths they use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from acumbamail_smtp import (
    Event,
    EventStore,
    EventType,
    Reply,
    SQLiteEventStore,
    WebhookReceiver,
    WebhookVerifier,
)
from acumbamail_smtp.store.common import raw_json
from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore
from acumbamail_smtp.store.sqlite import _TS_FORMAT
from acumbamail_smtp.store.sqlite import db_time as _ts
from acumbamail_smtp.webhooks.parse import parse_events

from tests.webhooks.helpers import T0, TOKEN, acumba, at, batch, event, send_result


@pytest.fixture(params=["sqlite", "sqlalchemy-sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventStore]:
    opened: EventStore
    if request.param == "sqlite":
        opened = SQLiteEventStore(tmp_path / "events.sqlite3")
    elif request.param == "sqlalchemy-sqlite":
        opened = SQLAlchemyEventStore(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    else:  # a fresh PostgreSQL schema (tests/conftest.py): missing under CI is a failure
        opened = SQLAlchemyEventStore(request.getfixturevalue("postgres_url"),
                                      schema=request.getfixturevalue("pg_schema"))
    yield opened
    opened.close()


def test_duplicates_within_one_post_and_against_the_store_are_stored_once(store: EventStore) -> None:
    a, b, c = (event(EventType.OPENED, f"{name}@example.com", at(1), key="Q1") for name in "abc")
    assert [e.event_id for e in store.store_events([a]).new] == [a.event_id]
    outcome = store.store_events([b, a, b, c, c, a])
    assert [e.event_id for e in outcome.new] == [b.event_id, c.event_id]
    assert [e.event_id for e in outcome.duplicates] == [a.event_id, b.event_id, c.event_id, a.event_id]
    assert sorted(e.recipient for e in store.events()) == ["a@example.com", "b@example.com", "c@example.com"]
    again = store.store_events([c, b])
    assert again.new == [] and len(again.duplicates) == 2


def test_a_post_of_only_duplicates_changes_nothing(store: EventStore) -> None:
    store.record_sends([send_result("<m@x>", accepted=["ana@example.com"], queue_id="Q1", category="C")])
    first = event(EventType.DELIVERED, "ana@example.com", at(1), key="Q1")
    (stored,) = store.store_events([first]).new
    outcome = store.store_events([first, first])
    assert outcome.new == [] and len(outcome.duplicates) == 2
    assert [(e.event_id, e.message_id, e.category) for e in store.events()] == [
        (stored.event_id, "<m@x>", "C")]


def test_events_whose_sends_are_recorded_later_are_joined_then(store: EventStore) -> None:
    early = [event(EventType.DELIVERED, f"r{n}@example.com", at(1), key=f"QL{n % 3}") for n in range(9)]
    outcome = store.store_events(early)
    assert [(e.message_id, e.category) for e in outcome.new] == [(None, None)] * 9
    store.record_sends([
        send_result(f"<late{q}@x>", accepted=[f"r{n}@example.com" for n in range(q, 9, 3)],
                    queue_id=f"QL{q}", category=f"LATE{q}", sent_at=at(0))
        for q in range(3)])
    joined = {e.recipient: (e.message_id, e.category) for e in store.events()}
    assert joined == {f"r{n}@example.com": (f"<late{n % 3}@x>", f"LATE{n % 3}") for n in range(9)}
    # a retried post of the same events after the send is recorded: duplicates, nothing changes
    assert len(store.store_events(early).duplicates) == 9
    assert {e.recipient: (e.message_id, e.category) for e in store.events()} == joined


def test_a_reused_queue_id_joins_the_send_to_the_same_recipient(store: EventStore) -> None:
    store.record_sends([  # the relay reused queue id QR for a later message
        send_result("<ana@x>", accepted=["ana@example.com"], queue_id="QR", category="ANA", sent_at=at(0)),
        send_result("<bo@x>", accepted=["bo@example.com"], queue_id="QR", category="BO", sent_at=at(5)),
        send_result("<ana2@x>", accepted=["ana@example.com"], queue_id="QS", category="ANA2", sent_at=at(6)),
    ])
    outcome = store.store_events([
        event(EventType.OPENED, "ana@example.com", at(9), key="QR"),
        event(EventType.OPENED, "bo@example.com", at(9), key="QR"),
        event(EventType.OPENED, "cy@example.com", at(9), key="QR"),  # neither: the latest send of QR
    ])
    assert [(e.message_id, e.category) for e in outcome.new] == [
        ("<ana@x>", "ANA"), ("<bo@x>", "BO"), ("<bo@x>", "BO")]


def test_a_batch_of_1000_events_is_joined_event_by_event(store: EventStore) -> None:
    """Over the chunk sizes of the queue-id and recipient queries, checked against the join
    rule written out plainly (by queue id, preferring the same recipient; else the recipient's
    latest accepted send at or before the event)."""
    sends = []
    for n in range(600):  # two sends per recipient, 10 minutes apart, each with its own queue id
        sends.append(send_result(f"<a{n}@x>", accepted=[f"u{n}@example.com"], queue_id=f"QA{n}",
                                 category="FIRST", sent_at=at(0)))
        sends.append(send_result(f"<b{n}@x>", accepted=[f"u{n}@example.com"], queue_id=f"QB{n}",
                                 category="SECOND", sent_at=at(10)))
    sends.append(send_result("<group@x>", accepted=[f"u{n}@example.com" for n in range(5)],
                             queue_id="QG", category="GROUP", sent_at=at(20)))
    sends.append(send_result("<refused@x>", accepted=[], refused={"u3@example.com": Reply(550, "no")},
                             queue_id=None, category="REFUSED", sent_at=at(30)))
    store.record_sends(sends)

    events: list[Event] = []
    expected: list[tuple[str | None, str | None]] = []
    for i in range(1000):
        n = i % 600
        kind = i % 6
        if kind == 0:  # its own queue id: that send, even when a later one exists
            events.append(event(EventType.OPENED, f"u{n}@example.com", at(40 + i / 100), key=f"QA{n}"))
            expected.append((f"<a{n}@x>", "FIRST"))
        elif kind == 1:  # unknown queue id, after both sends: the recipient's latest
            events.append(event(EventType.CLICKED, f"U{n}@Example.com", at(15), key=f"NOPE{i}",
                                url=f"https://x.example/{i}"))
            expected.append((f"<b{n}@x>", "SECOND"))
        elif kind == 2:  # no queue id, between the two sends: the earlier one
            events.append(event(EventType.DELIVERED, f"u{n}@example.com", at(5) + timedelta(milliseconds=i)))
            expected.append((f"<a{n}@x>", "FIRST"))
        elif kind == 3 and i % 12 == 3:  # more than JOIN_SKEW before any send: not joined
            events.append(event(EventType.DELIVERED, f"u{n}@example.com", at(-3) + timedelta(milliseconds=i)))
            expected.append((None, None))
        elif kind == 3:  # shortly before any send (clock skew): the earliest send after it
            events.append(event(EventType.DELIVERED, f"u{n}@example.com", at(-1) + timedelta(milliseconds=i)))
            expected.append((f"<a{n}@x>", "FIRST"))
        elif kind == 4:  # the group message's queue id: same recipient when it was one, else the latest row
            events.append(event(EventType.OPENED, f"u{n % 8}@example.com", at(25) + timedelta(seconds=i),
                                key="QG"))
            expected.append(("<group@x>", "GROUP"))
        else:  # a recipient never sent to (the refused row does not count either)
            events.append(event(EventType.SOFT_BOUNCE, f"nobody{i}@example.com", at(50)))
            expected.append((None, None))
    refused = event(EventType.HARD_BOUNCE, "u3@example.com", at(35))
    events.append(refused)  # refused at 30: the latest *accepted* send is the group message at 20
    expected.append(("<group@x>", "GROUP"))

    outcome = store.store_events(events)
    assert outcome.duplicates == []
    assert [e.event_id for e in outcome.new] == [e.event_id for e in events]
    assert [(e.message_id, e.category) for e in outcome.new] == expected
    stored = {e.event_id: (e.message_id, e.category) for e in store.events()}
    assert stored == {e.event_id: pair for e, pair in zip(events, expected, strict=True)}


def test_a_post_of_1000_events_with_repeats_through_the_receiver(store: EventStore) -> None:
    store.record_sends([send_result(f"<m{n}@x>", accepted=[f"u{n}@example.com"], queue_id=f"Q{n}",
                                    category="ORDER", sent_at=at(0)) for n in range(100)])
    items = [acumba(("delivered", "opens", "clicks")[i % 3], f"u{i % 100}@example.com",
                    T0.timestamp() + 60 + i, key=f"Q{i % 100}") for i in range(900)]
    items += items[:100]  # the same events twice in one post
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
    answer = receiver.handle(batch(*items), content_type="application/json", path_token=TOKEN)
    assert answer.status == 200
    assert answer.body == {"status": "ok", "received": 1000, "stored": 900, "duplicates": 100,
                           "suppressed": 0}
    assert {(e.message_id, e.category) for e in answer.events} == {
        (f"<m{n}@x>", "ORDER") for n in range(100)}
    assert sum(1 for _ in store.events()) == 900
    assert sum(1 for _ in store.events(category="ORDER")) == 900


# -- the fast paths -------------------------------------------------------------------------------


@pytest.mark.parametrize("when", [
    datetime(2024, 12, 17, 12, 0, 5, 123456, tzinfo=UTC),
    datetime(2024, 12, 17, 13, 0, 5, tzinfo=timezone(timedelta(hours=1))),
    datetime(1999, 1, 1, tzinfo=UTC),
    datetime(999, 3, 4, 5, 6, 7, 8, tzinfo=UTC),  # strftime does not pad years before 1000
    datetime(1, 1, 1, tzinfo=UTC),
])
def test_stored_timestamps_keep_their_format(when: datetime) -> None:
    assert _ts(when) == when.astimezone(UTC).strftime(_TS_FORMAT)


def test_raw_json_is_sorted_and_keeps_unicode() -> None:
    stamp = datetime(2024, 1, 2, tzinfo=UTC)
    assert raw_json({"b": 1, "a": "ñandú", "c": stamp}) == '{"a": "ñandú", "b": 1, "c": "2024-01-02 00:00:00+00:00"}'
    assert json.loads(raw_json({"z": {"y": [1, None]}})) == {"z": {"y": [1, None]}}


def test_event_ids_do_not_depend_on_the_time_zone_given() -> None:
    utc = Event(EventType.OPENED, "ana@example.com", datetime(2024, 12, 17, 12, tzinfo=UTC), "Q1")
    madrid = Event("opened", "Ana@Example.com",  # type: ignore[arg-type]
                   datetime(2024, 12, 17, 13, tzinfo=timezone(timedelta(hours=1))), "Q1")
    assert madrid.type is EventType.OPENED and madrid.timestamp.tzinfo is UTC
    assert madrid == utc and madrid.event_id == utc.event_id
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(EventType.OPENED, "ana@example.com", datetime(2024, 12, 17, 12))


@pytest.mark.parametrize("address", ["ana\u00a0@example.com", "ana@exa\u2003mple.com", "a\x1cna@example.com",
                                     "ana @example.com"])
def test_addresses_with_any_white_space_are_refused(address: str) -> None:
    (parsed,) = parse_events(batch(acumba("opens", address)), "application/json")
    assert (parsed.type, parsed.recipient) == (EventType.UNKNOWN, "")  # kept, under no address
    assert parsed.raw["email"] == address
