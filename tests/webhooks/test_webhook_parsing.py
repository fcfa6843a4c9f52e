"""parse_events: every body format Acumbamail (or a proxy) may use, every spelling, every
timestamp form, and a clear 400 for everything else."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
from acumbamail_smtp import Event, EventType, WebhookPayloadError, parse_events
from acumbamail_smtp.events import event_type_for, normalize_address

from tests.webhooks.helpers import acumba, batch

TS = 1734436800.0
WHEN = datetime.fromtimestamp(TS, UTC)


def multipart(fields: list[tuple[str, str | bytes, dict[str, str]]], boundary: str = "b0undary") -> bytes:
    """A multipart/form-data body; each field is (name, value, extra disposition params or headers)."""
    out = b""
    for name, value, extra in fields:
        data = value.encode() if isinstance(value, str) else value
        disposition = f'form-data; name="{name}"'
        if "filename" in extra:
            disposition += f'; filename="{extra["filename"]}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if "content-type" in extra:
            out += f"Content-Type: {extra['content-type']}\r\n".encode()
        out += b"\r\n" + data + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def test_acumbamail_batch_keyed_by_number_in_numeric_order() -> None:
    events = {str(n): acumba("delivered", f"r{n}@example.com", TS + n, key=f"K{n}") for n in (1, 2, 10)}
    body = json.dumps({"10": events["10"], "2": events["2"], "1": events["1"]}).encode()
    parsed = parse_events(body, "application/json")
    assert [e.recipient for e in parsed] == ["r1@example.com", "r2@example.com", "r10@example.com"]
    assert [e.message_key for e in parsed] == ["K1", "K2", "K10"]
    assert all(e.type is EventType.DELIVERED for e in parsed)


def test_event_fields_are_normalized_and_raw_keeps_everything() -> None:
    item = acumba("clicks", "Ana@Example.COM", TS, key="Q7", url="https://shop.example.com/p?x=1",
                  campaign_id=12, list_id=3, subscriber_fields={"name": "Ana"}, surprise=[1, 2])
    (parsed,) = parse_events(batch(item), "application/json; charset=utf-8")
    assert parsed.type is EventType.CLICKED
    assert parsed.recipient == "ana@example.com"
    assert parsed.timestamp == WHEN
    assert parsed.message_key == "Q7"
    assert parsed.url == "https://shop.example.com/p?x=1"
    assert parsed.category is None
    assert parsed.message_id is None
    assert parsed.raw == item
    assert len(parsed.event_id) == 64


def test_link_is_accepted_for_the_click_url() -> None:
    (parsed,) = parse_events(batch(acumba("click", "a@example.com", TS, link="https://e.com/l")), "application/json")
    assert parsed.url == "https://e.com/l"


def test_array_single_object_and_wrapped_events() -> None:
    one = acumba("opens", "a@example.com", TS)
    two = acumba("delivered", "b@example.com", TS)
    assert [e.recipient for e in parse_events(json.dumps([one, two]).encode(), "application/json")] == [
        "a@example.com", "b@example.com"]
    assert [e.type for e in parse_events(json.dumps(one).encode(), "application/json")] == [EventType.OPENED]
    wrapped = json.dumps({"events": [one, two]}).encode()
    assert len(parse_events(wrapped, "application/json")) == 2
    twice_encoded = json.dumps(json.dumps([one])).encode()
    assert len(parse_events(twice_encoded, "application/json")) == 1


def test_empty_batches_are_valid_and_empty() -> None:
    assert parse_events(b"{}", "application/json") == []
    assert parse_events(b"[]", "application/json") == []


def test_missing_or_vague_content_type_is_sniffed() -> None:
    body = batch(acumba("opens", "a@example.com", TS))
    assert len(parse_events(body, "")) == 1
    assert len(parse_events(body, "text/plain")) == 1
    form = urlencode({"event": "opens", "email": "a@example.com", "timestamp": TS}).encode()
    assert len(parse_events(form, "")) == 1
    assert len(parse_events(form, "application/octet-stream")) == 1


def test_form_urlencoded_single_event_with_nested_fields() -> None:
    body = urlencode({"event": "hard_bounces", "email": "a@example.com", "timestamp": "1734436800",
                      "email_key": "Q1", "subscriber_fields[name]": "Ana", "campaign_id": ""}).encode()
    (parsed,) = parse_events(body, "application/x-www-form-urlencoded")
    assert (parsed.type, parsed.recipient, parsed.timestamp, parsed.message_key) == (
        EventType.HARD_BOUNCE, "a@example.com", WHEN, "Q1")
    assert parsed.raw["subscriber_fields"] == {"name": "Ana"}
    assert parsed.raw["campaign_id"] == ""


def test_form_urlencoded_batch_with_bracket_keys() -> None:
    body = urlencode([("1[event]", "delivered"), ("1[email]", "a@example.com"), ("1[timestamp]", "1734436800"),
                      ("2[event]", "clicks"), ("2[email]", "b@example.com"), ("2[timestamp]", "1734436801"),
                      ("2[url]", "https://e.com")]).encode()
    parsed = parse_events(body, "application/x-www-form-urlencoded")
    assert [(e.type, e.recipient, e.url) for e in parsed] == [
        (EventType.DELIVERED, "a@example.com", None), (EventType.CLICKED, "b@example.com", "https://e.com")]


def test_form_field_holding_a_json_document() -> None:
    body = urlencode({"payload": batch(acumba("opens", "a@example.com", TS),
                                       acumba("complaints", "b@example.com", TS)).decode()}).encode()
    parsed = parse_events(body, "application/x-www-form-urlencoded")
    assert [e.type for e in parsed] == [EventType.OPENED, EventType.COMPLAINT]


def test_multipart_flat_fields() -> None:
    body = multipart([("event", "soft_bounces", {}), ("email", "a@example.com", {}),
                      ("timestamp", "1734436800.0", {}), ("email_key", "Q5", {}),
                      ("subscriber_fields[city]", "Málaga", {"content-type": "text/plain; charset=utf-8"})])
    (parsed,) = parse_events(body, 'multipart/form-data; boundary="b0undary"')
    assert (parsed.type, parsed.recipient, parsed.timestamp, parsed.message_key) == (
        EventType.SOFT_BOUNCE, "a@example.com", WHEN, "Q5")
    assert parsed.raw["subscriber_fields"] == {"city": "Málaga"}


def test_multipart_field_or_file_holding_json() -> None:
    document = batch(acumba("delivered", "a@example.com", TS), acumba("opens", "a@example.com", TS + 5))
    as_field = multipart([("data", document, {})])
    as_file = multipart([("events", document, {"filename": "events.json", "content-type": "application/json"})])
    for body in (as_field, as_file):
        parsed = parse_events(body, "multipart/form-data; boundary=b0undary")
        assert [e.type for e in parsed] == [EventType.DELIVERED, EventType.OPENED]


@pytest.mark.parametrize(("name", "expected"), [
    ("delivered", EventType.DELIVERED), ("hard_bounces", EventType.HARD_BOUNCE),
    ("hard_bounce", EventType.HARD_BOUNCE), ("Hard-Bounce", EventType.HARD_BOUNCE),
    ("soft_bounces", EventType.SOFT_BOUNCE), ("soft_bounce", EventType.SOFT_BOUNCE),
    ("complaints", EventType.COMPLAINT), ("complaint", EventType.COMPLAINT), ("complain", EventType.COMPLAINT),
    ("opens", EventType.OPENED), ("open", EventType.OPENED), ("opened", EventType.OPENED),
    ("clicks", EventType.CLICKED), ("click", EventType.CLICKED),
    ("subscribes", EventType.SUBSCRIBED), ("subscribe", EventType.SUBSCRIBED),
    ("unsubscribes", EventType.UNSUBSCRIBED), ("unsubscribe", EventType.UNSUBSCRIBED),
])
def test_every_spelling(name: str, expected: EventType) -> None:
    assert event_type_for(name) is expected
    (parsed,) = parse_events(batch(acumba(name, "a@example.com", TS)), "application/json")
    assert parsed.type is expected


def test_unknown_event_is_kept_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.webhooks"):
        (parsed,) = parse_events(batch(acumba("forwarded", "a@example.com", TS)), "application/json")
    assert parsed.type is EventType.UNKNOWN
    assert parsed.original_name == "forwarded"
    assert parsed.raw["event"] == "forwarded"
    assert any("forwarded" in r.getMessage() and r.name == "acumbamail_smtp.webhooks" for r in caplog.records)
    (other,) = parse_events(batch(acumba("archived", "a@example.com", TS)), "application/json")
    assert other.event_id != parsed.event_id  # two unknown kinds stay two events


@pytest.mark.parametrize("value", [
    1734436800, 1734436800.0, "1734436800", " 1734436800.0 ", 1734436800000, "1734436800000",
    1734436800000000, "2024-12-17T12:00:00Z", "2024-12-17T12:00:00+00:00", "2024-12-17T13:00:00+01:00",
    "2024-12-17 12:00:00", "Tue, 17 Dec 2024 12:00:00 +0000",
])
def test_timestamp_forms(value: object) -> None:
    (parsed,) = parse_events(batch(acumba("opens", "a@example.com", value)), "application/json")
    assert parsed.timestamp == datetime(2024, 12, 17, 12, 0, tzinfo=UTC)
    assert parsed.timestamp.tzinfo is UTC


def test_fractional_and_millisecond_timestamps_keep_their_precision() -> None:
    (seconds,) = parse_events(batch(acumba("opens", "a@example.com", 1734436800.25)), "application/json")
    (millis,) = parse_events(batch(acumba("opens", "a@example.com", 1734436800250)), "application/json")
    assert seconds.timestamp == millis.timestamp == WHEN + timedelta(milliseconds=250)


def test_missing_timestamp_uses_the_arrival_time(caplog: pytest.LogCaptureFixture) -> None:
    before = datetime.now(UTC)
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.webhooks"):
        (parsed,) = parse_events(json.dumps({"event": "opens", "email": "a@example.com"}).encode(), "application/json")
    assert before <= parsed.timestamp <= datetime.now(UTC)
    assert "no timestamp" in caplog.text


def test_event_id_is_stable_across_formats_and_deliveries() -> None:
    as_json = parse_events(batch(acumba("hard_bounces", "A@example.com", TS, key="Q1")), "application/json")
    as_form = parse_events(urlencode({"event": "hard_bounce", "email": "a@example.com", "timestamp": "1734436800",
                                      "email_key": "Q1"}).encode(), "application/x-www-form-urlencoded")
    assert as_json[0].event_id == as_form[0].event_id
    later = parse_events(batch(acumba("hard_bounces", "a@example.com", TS + 1, key="Q1")), "application/json")
    other_key = parse_events(batch(acumba("hard_bounces", "a@example.com", TS, key="Q2")), "application/json")
    assert len({as_json[0].event_id, later[0].event_id, other_key[0].event_id}) == 3
    click_a = Event(EventType.CLICKED, "a@example.com", WHEN, url="https://e.com/a")
    click_b = Event(EventType.CLICKED, "a@example.com", WHEN, url="https://e.com/b")
    assert click_a.event_id != click_b.event_id


def test_event_refuses_a_naive_timestamp() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(EventType.OPENED, "a@example.com", datetime(2024, 1, 1))


def test_event_converts_its_timestamp_to_utc() -> None:
    madrid = timezone(timedelta(hours=1))
    item = Event(EventType.OPENED, "a@example.com", datetime(2024, 12, 17, 13, 0, tzinfo=madrid))
    assert item.timestamp == WHEN
    assert item.timestamp.tzinfo is UTC


def test_normalize_address() -> None:
    assert normalize_address("  Ana@Example.COM ") == "ana@example.com"
    assert normalize_address("Ana <Ana@Example.com>") == "ana@example.com"
    assert normalize_address("josé@Bücher.example") == "josé@xn--bcher-kva.example"


@pytest.mark.parametrize(("body", "content_type", "problem"), [
    (b"", "application/json", "empty body"),
    (b"  \n", "application/json", "empty body"),
    (b"{not json", "application/json", "not valid JSON"),
    (b"42", "application/json", "expected a JSON object or array"),
    (b'[3, "x", null]', "application/json", "no item of the body is an event object"),
    (b'{"1": 3, "2": "x"}', "application/json", "neither an event nor a batch"),
    (b'{"a": 1, "b": "x"}', "application/json", "neither an event nor a batch"),
    (b"\xff\xfe{}", "application/json", "not valid utf-8"),
    (b"event=opens&event=clicks&email=a%40example.com", "application/x-www-form-urlencoded", "given twice"),
    (b"event=opens&&&broken", "application/x-www-form-urlencoded", "not valid form data"),
    (b"--x\r\n\r\n--x--\r\n", "multipart/form-data", "boundary"),
    (multipart([("", "x", {})]), "multipart/form-data; boundary=b0undary", "no field name"),
    (b"<event/>", "application/xml", "unsupported content type"),
    (json.dumps([[1]]).encode(), "application/json", "no item of the body is an event object"),
])
def test_malformed_bodies_name_the_problem(body: bytes, content_type: str, problem: str) -> None:
    with pytest.raises(WebhookPayloadError, match=problem) as info:
        parse_events(body, content_type)
    assert info.value.status == 400


@pytest.mark.parametrize(("item", "problem"), [
    ({"email": "b@example.com", "timestamp": TS}, "no event name"),
    ({"event": 7, "email": "b@example.com", "timestamp": TS}, "no event name"),
    ({"event": "hard_bounces", "timestamp": TS}, "no recipient"),
    ({"event": "hard_bounces", "email": "", "timestamp": TS}, "no recipient"),
    ({"event": "opens", "email": "not an address", "timestamp": TS}, "not an e-mail"),
    ({"event": "opens", "email": ["b@example.com"], "timestamp": TS}, "not an e-mail"),
    ({"event": "opens", "email": "b@example.com", "timestamp": "yesterday"}, "not a timestamp"),
    ({"event": "opens", "email": "b@example.com", "timestamp": True}, "not a timestamp"),
    ({"event": "opens", "email": "b@example.com", "timestamp": "nan"}, "not a timestamp"),
    ({"event": "opens", "email": "b@example.com", "timestamp": 1e300}, "not a timestamp"),
    ({"event": "clicks", "email": "b@example.com", "timestamp": TS, "url": 5}, "url must be a string"),
    ({"event": "opens", "email": "b@example.com", "timestamp": TS, "email_key": {"x": 1}}, "email_key"),
    ({"event": "opens", "email": "b@example.com", "timestamp": TS, "email_key": "k" * 300}, "longer than 255"),
    (42, "not an event object"),
])
def test_one_bad_event_is_kept_as_unknown_and_the_rest_of_the_batch_parsed(
        item: object, problem: str, caplog: pytest.LogCaptureFixture) -> None:
    body = json.dumps([acumba("opens", "a@example.com", TS), item, acumba("clicks", "c@example.com", TS)]).encode()
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.webhooks"):
        good, bad, other = parse_events(body, "application/json")
    assert (good.type, good.recipient, other.type, other.recipient) == (
        EventType.OPENED, "a@example.com", EventType.CLICKED, "c@example.com")
    assert bad.type is EventType.UNKNOWN  # so it suppresses nobody
    assert dict(bad.raw) == (item if isinstance(item, dict) else {"value": item})
    assert "event 2 stored as 'unknown'" in caplog.text and problem in caplog.text
    if isinstance(item, dict) and item.get("email") == "b@example.com":
        assert bad.recipient == "b@example.com"
    elif problem in ("no recipient", "not an e-mail", "not an event object"):
        assert bad.recipient == ""
    again = parse_events(body, "application/json")[1]
    assert again.event_id == bad.event_id  # a retry is recognized as a duplicate


def test_a_batch_keyed_by_number_keeps_an_item_that_is_not_an_object() -> None:
    body = json.dumps({"1": acumba("opens", "a@example.com", TS), "2": "garbage"}).encode()
    good, bad = parse_events(body, "application/json")
    assert good.type is EventType.OPENED
    assert (bad.type, bad.recipient, dict(bad.raw)) == (EventType.UNKNOWN, "", {"value": "garbage"})


def test_missing_timestamp_gives_an_id_from_the_raw_event_not_the_arrival_time() -> None:
    body = json.dumps({"event": "opens", "email": "a@example.com", "email_key": "Q1"}).encode()
    (first,) = parse_events(body, "application/json")
    (second,) = parse_events(body, "application/json")
    assert first.timestamp <= second.timestamp
    assert first.event_id == second.event_id
    (other,) = parse_events(json.dumps({"event": "opens", "email": "a@example.com", "email_key": "Q2"}).encode(),
                            "application/json")
    assert other.event_id != first.event_id
    reordered = json.dumps({"email_key": "Q1", "email": "a@example.com", "event": "opens"}).encode()
    assert parse_events(reordered, "application/json")[0].event_id == first.event_id

