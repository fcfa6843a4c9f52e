"""Hostile webhook bodies: every body is answered 2xx, 400 or 413, never an exception (a 500 in
the frameworks, a reset from the standalone server), and the store stays consistent. Known
crashers one by one, then hypothesis throwing arbitrary bytes, JSON and form bodies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from acumbamail_smtp import EventType, SQLiteEventStore, WebhookReceiver, WebhookVerifier
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhooks.helpers import TOKEN
from tests.webhooks.hostile import HOSTILE

MAX_BODY = 256 * 1024
FUZZ = settings(max_examples=60, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        yield store


@pytest.fixture
def receiver(store: SQLiteEventStore) -> WebhookReceiver:
    return WebhookReceiver(store, WebhookVerifier(token=TOKEN), max_body=MAX_BODY)


def post(receiver: WebhookReceiver, store: SQLiteEventStore, body: bytes, content_type: str) -> int:
    """Post ``body`` and check the store against the answer: a 200 added exactly the events it
    counts as stored, every other answer added none; every stored event is readable."""
    before = {e.event_id for e in store.events()}
    answer = receiver.handle(body, content_type=content_type, path_token=TOKEN)
    after = list(store.events())
    added = [e for e in after if e.event_id not in before]
    assert answer.status in (200, 400, 413), answer.body
    assert len({e.event_id for e in after}) == len(after)
    if answer.status == 200:
        assert len(added) == answer.body["stored"] == len(answer.events)
        assert answer.body["stored"] + answer.body["duplicates"] == answer.body["received"]
        assert all(isinstance(e.type, EventType) for e in added)
    else:
        assert added == [] and answer.events == []
        assert answer.body["status"] == "error" and answer.body["error"]
    return answer.status


@pytest.mark.parametrize(("body", "content_type", "status"),
                         [pytest.param(b, c, s, id=name) for name, b, c, s in HOSTILE])
def test_known_crashers_get_a_2xx_or_a_400(receiver: WebhookReceiver, store: SQLiteEventStore,
                                           body: bytes, content_type: str, status: int) -> None:
    assert post(receiver, store, body, content_type) == status


def test_an_unreadable_timestamp_is_stored_as_unknown(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    body = json.dumps([{"event": "opens", "email": "a@example.com", "timestamp": 10**400},
                       {"event": "opens", "email": "b@example.com", "timestamp": "0001-01-01T00:00:00+05:00"},
                       {"event": "opens", "email": "c@example.com", "timestamp": 1734436800}]).encode()
    assert post(receiver, store, body, "application/json") == 200
    assert sorted((e.recipient, e.type) for e in store.events()) == [
        ("a@example.com", EventType.UNKNOWN), ("b@example.com", EventType.UNKNOWN),
        ("c@example.com", EventType.OPENED)]


def test_unstorable_characters_are_replaced_and_the_event_kept(receiver: WebhookReceiver,
                                                               store: SQLiteEventStore) -> None:
    body = b'{"event": "opens", "email": "a@example.com", "note": "x\\ud800y\\u0000z", "timestamp": 1734436800}'
    assert post(receiver, store, body, "application/json") == 200
    (stored,) = store.events()
    assert stored.type is EventType.OPENED
    assert stored.raw["note"] == "x\ufffdy\ufffdz"


def test_the_nesting_bound_leaves_real_events_alone(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    deep: Any = "leaf"
    for _ in range(20):
        deep = {"d": deep}
    body = json.dumps({"1": {"event": "opens", "email": "a@example.com", "timestamp": 1734436800,
                             "subscriber_fields": deep}}).encode()
    form = urlencode({"event": "opens", "email": "b@example.com", "a" + "[x]" * 20: "1"}).encode()
    assert post(receiver, store, body, "application/json") == 200
    assert post(receiver, store, form, "application/x-www-form-urlencoded") == 200
    assert {e.type for e in store.events()} == {EventType.OPENED}


CONTENT_TYPES = st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", "",
                                 "multipart/form-data; boundary=b", "application/json; charset=latin-1",
                                 "application/x-www-form-urlencoded; charset=utf-16", "image/png"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=10**300, max_value=10**400)
           | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
           | st.sampled_from(["opens", "hard_bounces", "a@example.com", "0001-01-01T00:00:00+05:00",
                              "9999-12-31T23:59:59-14:00", "Mon, 01 Jan 0001 00:00:00 +0500", "\ud800", "\x00"]))
KEYS = st.sampled_from(["event", "email", "timestamp", "email_key", "url", "type", "1", "2", "events"]) | st.text(
    max_size=8)
DOCUMENTS = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                         max_leaves=20)


@FUZZ
@given(body=st.binary(max_size=2048), content_type=CONTENT_TYPES)
def test_arbitrary_bytes(receiver: WebhookReceiver, store: SQLiteEventStore, body: bytes, content_type: str) -> None:
    post(receiver, store, body, content_type)


@FUZZ
@given(document=DOCUMENTS)
def test_arbitrary_json(receiver: WebhookReceiver, store: SQLiteEventStore, document: Any) -> None:
    body = json.dumps(document, ensure_ascii=False).encode("utf-8", "surrogatepass")
    post(receiver, store, body, "application/json")


@FUZZ
@given(document=DOCUMENTS)
def test_arbitrary_json_escaped(receiver: WebhookReceiver, store: SQLiteEventStore, document: Any) -> None:
    post(receiver, store, json.dumps(document).encode(), "application/json")  # \\uXXXX, lone surrogates too


FORM_KEYS = st.from_regex(r"\A[a-z0-9_]{0,6}(\[[a-z0-9_]{0,4}\]){0,4}\Z") | st.text(max_size=12)


@FUZZ
@given(pairs=st.lists(st.tuples(FORM_KEYS, SCALARS.map(str)), max_size=8),
       charset=st.sampled_from(["utf-8", "latin-1", "utf-16", "ascii", "no-such-charset"]))
def test_arbitrary_forms(receiver: WebhookReceiver, store: SQLiteEventStore, pairs: list[tuple[str, str]],
                         charset: str) -> None:
    body = urlencode(pairs, encoding="utf-8", errors="surrogatepass").encode("ascii")
    post(receiver, store, body, f"application/x-www-form-urlencoded; charset={charset}")


@FUZZ
@given(head=st.binary(max_size=64), extra=st.integers(min_value=1, max_value=4096))
def test_oversized_bodies_are_413(receiver: WebhookReceiver, store: SQLiteEventStore, head: bytes,
                                  extra: int) -> None:
    body = head + b"[" * (MAX_BODY - len(head) + extra)
    assert post(receiver, store, body, "application/json") == 413
