"""Definitions on hand-built data where the fake relay cannot script it (past days, reasons in
the webhook), bad input, and the constant-memory CSV stream."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from acumbamail_smtp import ConfigError, Event, EventType, Reply, SendResult, SQLiteEventStore, reports
from acumbamail_smtp.reports import export, queries

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def result(n: int, *, day: int = 0, category: str | None = "A", recipient: str | None = None) -> SendResult:
    return SendResult(f"<m{n}@example.com>", "sent", accepted=[recipient or f"u{n}@example.org"],
                      reply=Reply(250, f"2.0.0 Ok: queued as Q{n}"), category=category,
                      sent_at=T0 + timedelta(days=day, minutes=n))


def event(kind: EventType, n: int, minutes: float, **raw: Any) -> Event:
    return Event(kind, f"u{n}@example.org", T0 + timedelta(minutes=minutes), message_key=f"Q{n}",
                 url=raw.pop("url", None), raw=raw)


@pytest.fixture
def store() -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(":memory:") as store:
        yield store


def test_by_day_fills_the_gaps_with_zero_days(store: SQLiteEventStore) -> None:
    store.record_sends([result(1, day=0), result(2, day=0), result(3, day=3)])
    store.store_events([event(EventType.DELIVERED, 1, 5), event(EventType.OPENED, 1, 6),
                        event(EventType.DELIVERED, 3, 3 * 1440 + 10)])
    days = reports.by_day(store)
    assert [(d.key, d.sent, d.delivered, d.opened) for d in days] == [
        ("2024-05-01", 2, 1, 1), ("2024-05-02", 0, 0, 0), ("2024-05-03", 0, 0, 0), ("2024-05-04", 1, 1, 0)]
    assert reports.by_day(store, since=T0 + timedelta(days=1))[0].key == "2024-05-04"
    assert reports.by_day(store, category="nothing") == []


def test_an_event_for_an_older_send_counts_for_the_day_it_was_sent(store: SQLiteEventStore) -> None:
    store.record_sends([result(1, day=0)])
    store.store_events([event(EventType.OPENED, 1, 5 * 1440)])  # opened five days later
    day = datetime(2024, 5, 1, tzinfo=UTC)
    assert reports.summary(store, since=day, until=day + timedelta(days=1)).opened == 1
    assert reports.summary(store, since=day + timedelta(days=1)).sent == 0


def test_reopens_count_once_as_opened_and_every_time_as_opens(store: SQLiteEventStore) -> None:
    store.record_sends([result(1)])
    store.store_events([event(EventType.OPENED, 1, m) for m in (2, 3, 4, 5)])
    total = reports.summary(store)
    assert (total.opened, total.opens, total.delivered, total.unopened) == (1, 4, 1, 0)


def test_a_soft_bounce_later_delivered_counts_as_both(store: SQLiteEventStore) -> None:
    store.record_sends([result(1)])
    store.store_events([event(EventType.SOFT_BOUNCE, 1, 2), event(EventType.DELIVERED, 1, 30)])
    total = reports.summary(store)
    assert (total.soft_bounces, total.delivered, total.unopened) == (1, 1, 1)
    [row] = reports.recipients(store).rows
    assert row.status == "delivered" and row.reason == "soft bounce (no reason given)"


def test_a_later_unsubscribe_or_unknown_event_does_not_hide_a_hard_bounce(store: SQLiteEventStore) -> None:
    store.record_sends([result(1)])
    store.store_events([event(EventType.HARD_BOUNCE, 1, 2, reason="550 user unknown"),
                        event(EventType.UNSUBSCRIBED, 1, 10), event(EventType.SUBSCRIBED, 1, 11),
                        event(EventType.UNKNOWN, 1, 12, event="list_cleaned")])
    [row] = reports.recipients(store).rows
    assert (row.status, row.hard_bounce, row.reason) == ("hard_bounce", True, "550 user unknown")
    assert row.last_event_at == T0 + timedelta(minutes=2)
    assert [r.recipient for r in reports.recipients(store, status="hard_bounce").rows] == ["u1@example.org"]


def test_events_without_a_recorded_send_are_not_counted(store: SQLiteEventStore) -> None:
    store.store_events([event(EventType.OPENED, 9, 1)])
    assert reports.summary(store) == reports.Summary()
    assert reports.recipients(store).rows == []


def test_the_reason_comes_from_the_webhook_and_is_neutralised_in_csv(store: SQLiteEventStore) -> None:
    store.record_sends([result(1, category="=cmd|' /C calc'!A0"), result(2)])
    store.store_events([event(EventType.HARD_BOUNCE, 1, 2, reason="550 5.1.1 <u1@example.org>:\n user unknown"),
                        event(EventType.COMPLAINT, 2, 3, description="-abuse report")])
    rows = {r.recipient: r for r in reports.recipients(store).rows}
    assert rows["u1@example.org"].reason == "550 5.1.1 <u1@example.org>: user unknown"
    assert rows["u2@example.org"].reason == "-abuse report"
    parsed = list(csv.DictReader(io.StringIO("".join(reports.recipients_csv(store)))))
    cells = {r["recipient"]: r for r in parsed}
    assert cells["u1@example.org"]["category"] == "'=cmd|' /C calc'!A0"
    assert cells["u2@example.org"]["reason"] == "'-abuse report"


class CountingStore:
    """A store wrapper counting the queries, to see that the CSV is fetched page by page."""

    def __init__(self, inner: SQLiteEventStore) -> None:
        self.inner = inner
        self.queries = 0

    @property
    def dialect(self) -> str:
        return self.inner.dialect

    def read_sql(self, sql: str, params: Mapping[str, Any] | None = None) -> list[tuple[Any, ...]]:
        self.queries += 1
        return self.inner.read_sql(sql, params)


def test_the_csv_is_streamed_page_by_page(store: SQLiteEventStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queries, "EXPORT_PAGE", 10)
    monkeypatch.setattr(export, "CSV_CHUNK_ROWS", 10)
    store.record_sends([result(n) for n in range(45)])
    counting = CountingStore(store)
    chunks = reports.recipients_csv(counting)
    assert counting.queries == 0  # nothing read before the first chunk is asked for
    first = next(chunks)
    assert counting.queries <= 4 and first.startswith("recipient,category,sent_at")
    rest = "".join(chunks)
    assert counting.queries == 10  # 5 pages of sends, 5 of their events
    assert len(list(csv.reader(io.StringIO(first + rest)))) == 46


def test_progress_is_reported_while_exporting(store: SQLiteEventStore) -> None:
    store.record_sends([result(n) for n in range(1200)])
    calls: list[tuple[int, int]] = []
    out = io.StringIO()
    reports.write_csv(out, reports.recipients_csv(store, progress=lambda done, total: calls.append((done, total))))
    assert calls == [(500, 1200), (1000, 1200), (1200, 1200)]
    assert out.getvalue().count("\r\n") == 1201


@pytest.mark.parametrize(("call", "field"), [
    (lambda s: reports.summary(s, since=datetime(2024, 5, 1)), "since"),
    (lambda s: reports.summary(s, since=T0, until=T0), "until"),
    (lambda s: reports.recipients(s, status="bounced"), "status"),
    (lambda s: reports.recipients(s, limit=0), "limit"),
    (lambda s: reports.recipients(s, limit=reports.MAX_PAGE + 1), "limit"),
    (lambda s: reports.recipients(s, after="yesterday"), "after"),
    (lambda s: reports.clicks_by_url(s, limit=-1), "limit"),
    (lambda s: reports.summary(object()), "store"),
])
def test_bad_input_is_a_config_error_naming_the_field(store: SQLiteEventStore, call: Any, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        call(store)
    assert caught.value.field == field


def test_filters_from_text() -> None:
    flt = reports.ReportFilter.from_query({"since": "2024-05-01", "until": "2024-05-31", "category": " ORDER ",
                                           "status": "opened"})
    assert flt.since == datetime(2024, 5, 1, tzinfo=UTC)
    assert flt.until == datetime(2024, 6, 1, tzinfo=UTC)  # the until day is included
    assert (flt.category, flt.status) == ("ORDER", "opened")
    assert reports.ReportFilter.from_query(flt.as_query()) == flt
    assert reports.ReportFilter.from_query({"since": "2024-05-01T10:00:00+02:00"}).since == datetime(
        2024, 5, 1, 8, tzinfo=UTC)
    assert reports.ReportFilter.from_query({"since": "", "status": ""}) == reports.ReportFilter()
    with pytest.raises(ConfigError, match="since: 'last week' is not a date"):
        reports.ReportFilter.from_query({"since": "last week"})
