"""WebhookReceiver.handle / ahandle: the status for every outcome, nothing stored on a refusal,
duplicates once, suppression applied, handlers called for new events only."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from acumbamail_smtp import (
    ConfigError,
    Event,
    EventType,
    SQLiteEventStore,
    SuppressionPolicy,
    WebhookReceiver,
    WebhookResponse,
    WebhookVerifier,
    receiver_from_settings,
)
from acumbamail_smtp.store.sqlite import StoreOutcome

from tests.webhooks.helpers import TOKEN, acumba, batch, send_result

JSON = "application/json"
GOOD = {"token": TOKEN}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        yield store


@pytest.fixture
def receiver(store: SQLiteEventStore) -> WebhookReceiver:
    return WebhookReceiver(store, WebhookVerifier(token=TOKEN))


def post(receiver: WebhookReceiver, body: bytes, content_type: str = JSON, **kwargs: object) -> WebhookResponse:
    kwargs.setdefault("query", GOOD)
    return receiver.handle(body, content_type=content_type, **kwargs)  # type: ignore[arg-type]


def test_stores_the_events_and_answers_200(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    store.record_sends([send_result("<m@x>", accepted=["a@example.com"], queue_id="Q1", category="ORDER")])
    response = post(receiver, batch(acumba("delivered", "a@example.com", key="Q1"),
                                    acumba("opens", "a@example.com", 1734436900.0, key="Q1")))
    assert response.status == 200
    assert response.body == {"status": "ok", "received": 2, "stored": 2, "duplicates": 0, "suppressed": 0}
    assert json.loads(response.content()) == response.body
    assert response.content_type == "application/json"
    assert [(e.type, e.category, e.message_id) for e in response.events] == [
        (EventType.DELIVERED, "ORDER", "<m@x>"), (EventType.OPENED, "ORDER", "<m@x>")]
    assert len(list(store.events(category="ORDER"))) == 2


def test_a_redelivered_post_is_stored_once(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    body = batch(acumba("delivered", "a@example.com"), acumba("opens", "a@example.com", 1734436900.0))
    assert post(receiver, body).body["stored"] == 2
    again = post(receiver, body)
    assert again.status == 200
    assert again.body == {"status": "ok", "received": 2, "stored": 0, "duplicates": 2, "suppressed": 0}
    assert again.events == []
    assert len(list(store.events())) == 2


def test_oversized_body_is_413_and_nothing_is_stored(store: SQLiteEventStore) -> None:
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), max_body=300)
    body = batch(*[acumba("opens", f"r{n}@example.com") for n in range(5)])
    assert len(body) > 300
    response = post(receiver, body)
    assert response.status == 413
    assert "300 bytes" in response.body["error"]
    assert list(store.events()) == []
    assert post(receiver, batch(acumba("opens", "a@example.com"))).status == 200


def test_check_length_lets_adapters_refuse_before_reading(receiver: WebhookReceiver) -> None:
    assert receiver.check_length(None) is None
    assert receiver.check_length("") is None
    assert receiver.check_length(1000) is None
    too_big = receiver.check_length(str(receiver.max_body + 1))
    assert too_big is not None
    assert too_big.status == 413
    garbled = receiver.check_length("lots")
    assert garbled is not None
    assert garbled.status == 400


def test_malformed_body_is_400_and_nothing_is_stored(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    for body in (b"{oops", b"[1, 2]", b'"text"'):
        response = post(receiver, body)
        assert response.status == 400
        assert response.body["status"] == "error"
    assert list(store.events()) == []


@pytest.mark.parametrize("bad", [
    {"email": "b@example.com", "timestamp": 1734436800},  # no event name
    {"event": ["hard_bounces"], "email": "b@example.com", "timestamp": 1734436800},  # not a string
    {"event": "hard_bounces", "email": "", "timestamp": 1734436800},  # no recipient
    {"event": "hard_bounces", "timestamp": 1734436800},
])
def test_one_bad_event_does_not_cost_the_batch(receiver: WebhookReceiver, store: SQLiteEventStore,
                                               bad: dict[str, object]) -> None:
    body = batch(acumba("delivered", "a@example.com"), bad, acumba("opens", "c@example.com"))
    response = post(receiver, body)
    assert response.status == 200
    assert response.body["stored"] == 3
    stored = sorted(store.events(), key=lambda e: e.recipient)
    assert [(e.type, e.recipient) for e in stored] == sorted(
        [(EventType.DELIVERED, "a@example.com"), (EventType.OPENED, "c@example.com"),
         (EventType.UNKNOWN, bad.get("email") or "")], key=lambda pair: pair[1])
    (kept,) = [e for e in stored if e.type is EventType.UNKNOWN]
    assert dict(kept.raw) == bad
    assert list(store.suppressions()) == []  # an unreadable event suppresses nobody
    assert post(receiver, body).body["duplicates"] == 3


def test_events_without_a_timestamp_are_stored_once_across_retries(receiver: WebhookReceiver,
                                                                   store: SQLiteEventStore) -> None:
    body = json.dumps([{"event": "delivered", "email": "a@example.com", "email_key": "Q1"},
                       {"event": "hard_bounces", "email": "b@example.com"}]).encode()
    assert post(receiver, body).body["stored"] == 2
    assert post(receiver, body).body == {"status": "ok", "received": 2, "stored": 0, "duplicates": 2,
                                         "suppressed": 0}
    assert len(list(store.events())) == 2


def test_failed_verification_stores_nothing(receiver: WebhookReceiver, store: SQLiteEventStore) -> None:
    body = batch(acumba("hard_bounces", "a@example.com"))
    assert post(receiver, body, query={}).status == 401
    assert post(receiver, body, query={"token": "guess"}).status == 403
    assert post(receiver, body, query={}, path_token="guess").status == 403
    assert list(store.events()) == []
    assert list(store.suppressions()) == []
    assert post(receiver, body, query={}, path_token=TOKEN).status == 200


def test_verification_comes_before_parsing(receiver: WebhookReceiver) -> None:
    assert post(receiver, b"{garbage", query={}).status == 401


def test_basic_401_carries_a_challenge(store: SQLiteEventStore) -> None:
    receiver = WebhookReceiver(store, WebhookVerifier(basic_auth=[("hook", "pw-123456")]))
    response = post(receiver, batch(acumba("opens", "a@example.com")), headers={})
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
    good = "Basic " + base64.b64encode(b"hook:pw-123456").decode()
    assert post(receiver, batch(acumba("opens", "a@example.com")), headers={"AUTHORIZATION": good}).status == 200


class FlakySuppressionStore(SQLiteEventStore):
    """A real SQLite store whose ``suppress`` fails ``failures`` times, as a database error would
    (the one fault we cannot cause for suppress alone)."""

    failures = 1

    def suppress(self, address: str, reason: str = "manual", event_id: str | None = None) -> bool:
        if self.failures:
            self.failures -= 1
            raise sqlite3.OperationalError("disk I/O error")
        return super().suppress(address, reason, event_id)


def test_a_hard_bounce_whose_suppression_fails_is_answered_503_and_applied_on_the_retry(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with FlakySuppressionStore(tmp_path / "events.sqlite3") as store:
        receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
        body = batch(acumba("delivered", "ok@example.com"), acumba("hard_bounces", "gone@example.com"),
                     acumba("complaints", "angry@example.com"))
        with caplog.at_level(logging.ERROR, logger="acumbamail_smtp.webhooks"):
            first = post(receiver, body)
        assert first.status == 503
        assert int(first.headers["Retry-After"]) > 0
        assert "could not be suppressed" in caplog.text
        assert list(store.events()) == []  # nothing acknowledged, so the retry finds the events new
        assert list(store.suppressions()) == []
        retry = post(receiver, body)
        assert (retry.status, retry.body["stored"], retry.body["suppressed"]) == (200, 3, 2)
        assert {s.address: s.reason for s in store.suppressions()} == {
            "gone@example.com": "hard_bounce", "angry@example.com": "complaint"}
        assert post(receiver, body).body["duplicates"] == 3


def test_a_failing_soft_bounce_policy_answers_503(tmp_path: Path) -> None:
    with FlakySuppressionStore(tmp_path / "events.sqlite3") as store:
        seen: list[Event] = []
        receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), on_event=seen.append,
                                   policy=SuppressionPolicy(soft_bounce_limit=1))
        response = post(receiver, batch(acumba("soft_bounces", "s@example.com")))
        assert response.status == 503 and "Retry-After" in response.headers
        assert [e.type for e in seen] == [EventType.SOFT_BOUNCE]  # stored, so handlers still see it once
        assert list(store.suppressions()) == []
        assert post(receiver, batch(acumba("soft_bounces", "s@example.com", 1734436900))).body["suppressed"] == 1


def test_a_locked_store_answers_503_then_the_retry_succeeds(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SQLiteEventStore(path, timeout=0.05)
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
    body = batch(acumba("hard_bounces", "a@example.com"))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with caplog.at_level(logging.ERROR, logger="acumbamail_smtp.webhooks"):
            response = post(receiver, body)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status == 503
    assert response.body == {"status": "error", "error": "event store unavailable"}
    assert "Retry-After" in response.headers
    assert "answering 503 so the sender retries" in caplog.text
    assert list(store.events()) == []
    retry = post(receiver, body)
    assert (retry.status, retry.body["stored"], retry.body["suppressed"]) == (200, 1, 1)
    store.close()


def test_hard_bounce_and_complaint_suppress_soft_bounce_does_not(receiver: WebhookReceiver,
                                                                store: SQLiteEventStore) -> None:
    response = post(receiver, batch(acumba("hard_bounces", "Hard@Example.com"),
                                    acumba("complaints", "spam@example.com"),
                                    acumba("soft_bounces", "soft@example.com"),
                                    acumba("delivered", "fine@example.com")))
    assert response.body["suppressed"] == 2
    entries = {s.address: s for s in store.suppressions()}
    assert set(entries) == {"hard@example.com", "spam@example.com"}
    assert entries["hard@example.com"].reason == "hard_bounce"
    assert entries["spam@example.com"].reason == "complaint"
    (bounce,) = store.events(type="hard_bounce")
    assert entries["hard@example.com"].event_id == bounce.event_id
    assert store.suppressed(["HARD@example.com", "soft@example.com"]) == {"HARD@example.com"}


def test_soft_bounce_policy_through_the_receiver(store: SQLiteEventStore) -> None:
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN),
                               policy=SuppressionPolicy(soft_bounce_limit=2, soft_bounce_days=3))
    assert post(receiver, batch(acumba("soft_bounces", "s@example.com", 1734436800))).body["suppressed"] == 0
    five_days = 1734436800 + 5 * 86400
    assert post(receiver, batch(acumba("soft_bounces", "s@example.com", five_days))).body["suppressed"] == 0
    assert post(receiver, batch(acumba("soft_bounces", "s@example.com", five_days + 60))).body["suppressed"] == 1
    (entry,) = store.suppressions()
    assert entry.reason == "soft_bounce"


def test_a_replayed_bounce_does_not_resuppress_an_address_taken_off(receiver: WebhookReceiver,
                                                                     store: SQLiteEventStore) -> None:
    body = batch(acumba("hard_bounces", "a@example.com"))
    post(receiver, body)
    assert store.unsuppress("a@example.com")
    assert post(receiver, body).body["duplicates"] == 1
    assert store.suppressed(["a@example.com"]) == set()


def test_unknown_events_are_stored_and_logged(receiver: WebhookReceiver, store: SQLiteEventStore,
                                              caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.webhooks"):
        response = post(receiver, batch(acumba("deferred", "a@example.com")))
    assert response.status == 200
    (stored,) = store.events()
    assert (stored.type, stored.original_name) == (EventType.UNKNOWN, "deferred")
    assert "deferred" in caplog.text


def test_on_event_sees_each_new_event_and_its_errors_are_only_logged(
        store: SQLiteEventStore, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[Event] = []

    def handler(event: Event) -> None:
        seen.append(event)
        if event.type is EventType.OPENED:
            raise RuntimeError("handler bug")

    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), on_event=handler)
    body = batch(acumba("opens", "a@example.com"), acumba("delivered", "a@example.com"))
    with caplog.at_level(logging.ERROR, logger="acumbamail_smtp.webhooks"):
        response = post(receiver, body)
    assert response.status == 200
    assert [e.type for e in seen] == [EventType.OPENED, EventType.DELIVERED]
    assert "handler failed" in caplog.text
    post(receiver, body)  # duplicates: no second call
    assert len(seen) == 2


def test_an_async_handler_needs_ahandle(store: SQLiteEventStore, caplog: pytest.LogCaptureFixture) -> None:
    async def handler(event: Event) -> None:
        raise AssertionError("never awaited")

    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), on_event=handler)
    with caplog.at_level(logging.ERROR, logger="acumbamail_smtp.webhooks"):
        assert post(receiver, batch(acumba("opens", "a@example.com"))).status == 200
    assert "use WebhookReceiver.ahandle" in caplog.text


class ThreadRecordingStore(SQLiteEventStore):
    """The real store, noting which thread wrote."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.threads: list[int] = []

    def store_events(self, events: Sequence[Event]) -> StoreOutcome:
        self.threads.append(threading.get_ident())
        return super().store_events(events)


async def test_ahandle_stores_off_the_event_loop_and_awaits_async_handlers(tmp_path: Path) -> None:
    store = ThreadRecordingStore(tmp_path / "events.sqlite3")
    seen: list[str] = []

    async def handler(event: Event) -> None:
        await asyncio.sleep(0)
        seen.append(event.recipient)

    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN), on_event=handler)
    response = await receiver.ahandle(batch(acumba("hard_bounces", "a@example.com")), content_type=JSON,
                                      headers={}, query=GOOD)
    assert (response.status, response.body["stored"], response.body["suppressed"]) == (200, 1, 1)
    assert seen == ["a@example.com"]
    assert store.threads
    assert threading.get_ident() not in store.threads
    assert (await receiver.ahandle(b"{", content_type=JSON, query=GOOD)).status == 400
    assert (await receiver.ahandle(b"{}", content_type=JSON, query={})).status == 401
    store.close()


async def test_ahandle_answers_503_when_the_store_is_locked(tmp_path: Path) -> None:
    path = tmp_path / "locked.sqlite3"
    store = SQLiteEventStore(path, timeout=0.05)
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        response = await receiver.ahandle(batch(acumba("opens", "a@example.com")), content_type=JSON, query=GOOD)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert response.status == 503
    store.close()


def test_receiver_refuses_bad_construction(store: SQLiteEventStore) -> None:
    verifier = WebhookVerifier(token=TOKEN)
    with pytest.raises(ConfigError, match="EventStore"):
        WebhookReceiver(object(), verifier)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="WebhookVerifier"):
        WebhookReceiver(store, object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_body"):
        WebhookReceiver(store, verifier, max_body=0)
    with pytest.raises(ConfigError, match="on_event"):
        WebhookReceiver(store, verifier, on_event="not callable")  # type: ignore[arg-type]
    assert TOKEN not in repr(WebhookReceiver(store, verifier))


def test_receiver_from_settings_converts_plain_values(store: SQLiteEventStore) -> None:
    receiver = receiver_from_settings(store, {
        "TOKEN": TOKEN, "basic_auth": "hook:pw-123456, hook:pw-654321", "max_body": "2048",
        "soft_bounce_limit": "2", "soft_bounce_days": "5", "insecure": "false", "signing_secrets": None,
    })
    assert receiver.verifier.methods == ("token", "basic")
    assert receiver.max_body == 2048
    assert receiver.policy == SuppressionPolicy(soft_bounce_limit=2, soft_bounce_days=5)
    header = {"Authorization": "Basic " + base64.b64encode(b"hook:pw-654321").decode()}
    assert post(receiver, batch(acumba("opens", "a@example.com")), headers=header).status == 200
    insecure = receiver_from_settings(store, insecure="yes", token="")
    assert insecure.verifier.methods == ()
    assert post(insecure, batch(acumba("opens", "b@example.com")), query={}).status == 200


@pytest.mark.parametrize(("setting", "user", "password"), [
    ("hook:pw with spaces", "hook", "pw with spaces"),
    (" hook:p\tw ,other:x y ", "hook", "p\tw"),
    (["hook:pa,ss word"], "hook", "pa,ss word"),
    ([("hook", "pa,ss")], "hook", "pa,ss"),
])
def test_receiver_from_settings_does_not_split_passwords_on_white_space(
        store: SQLiteEventStore, setting: object, user: str, password: str) -> None:
    receiver = receiver_from_settings(store, token=None, basic_auth=setting)
    header = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
    assert post(receiver, batch(acumba("opens", "a@example.com")), headers=header, query={}).status == 200
    wrong = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password[:2]}".encode()).decode()}
    assert post(receiver, batch(acumba("opens", "a@example.com")), headers=wrong, query={}).status == 403


@pytest.mark.parametrize(("settings", "field"), [
    ({"tokn": TOKEN}, "tokn"),
    ({"token": TOKEN, "max_body": "big"}, "max_body"),
    ({"token": TOKEN, "basic_auth": "no-colon"}, "basic_auth"),
    ({"token": TOKEN, "soft_bounce_limit": "0"}, "soft_bounce_limit"),
    ({"token": TOKEN, "insecure": "maybe"}, "insecure"),
    ({}, "webhook verification"),
])
def test_receiver_from_settings_names_bad_settings(store: SQLiteEventStore, settings: dict[str, str],
                                                   field: str) -> None:
    with pytest.raises(ConfigError) as info:
        receiver_from_settings(store, settings)
    assert info.value.field == field


def test_cached_receiver_is_built_once_per_store_and_settings(store: SQLiteEventStore,
                                                              tmp_path: Path) -> None:
    from acumbamail_smtp.webhooks import cached_receiver

    first = cached_receiver(store, {"token": TOKEN, "basic_auth": None})
    assert cached_receiver(store, {"TOKEN": TOKEN}) is first  # unset values and key case ignored
    changed = cached_receiver(store, {"token": TOKEN, "max_body": "4096"})
    assert changed is not first and changed.max_body == 4096
    handled = cached_receiver(store, {"token": TOKEN}, on_event=print)
    assert handled is not first and handled.on_event is print
    with SQLiteEventStore(tmp_path / "other.sqlite3") as other:
        assert cached_receiver(other, {"token": TOKEN}).store is other


def test_cached_receiver_names_the_frameworks_setting(store: SQLiteEventStore) -> None:
    from acumbamail_smtp.webhooks import cached_receiver

    names = {"token": "ACUMBAMAIL_WEBHOOK_TOKEN", "max_body": "ACUMBAMAIL_WEBHOOK_MAX_BODY"}
    with pytest.raises(ConfigError) as info:
        cached_receiver(store, {"token": TOKEN, "max_body": "big"}, names=names)
    assert info.value.field == "ACUMBAMAIL_WEBHOOK_MAX_BODY"
    with pytest.raises(ConfigError) as info:
        cached_receiver(store, {}, names=names)  # nothing configured: the token is what to set
    assert info.value.field == "ACUMBAMAIL_WEBHOOK_TOKEN"
    with pytest.raises(ConfigError) as info:
        cached_receiver(store, {"token": " "})
    assert info.value.field == "token"
