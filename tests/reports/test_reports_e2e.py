"""Every number of the report, checked against events produced end to end by the fake relay
(see conftest.run_scenario for what happened to each recipient)."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from acumbamail_smtp import reports
from acumbamail_smtp.reports.model import STATUSES, Summary
from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore
from acumbamail_smtp.store.sqlite import EventStore, SQLiteEventStore

from tests.reports.conftest import BY_STATUS, EXPECTED, LAST_STATUS, URL1, URL2, addr, run_scenario


def counts(item: Summary) -> dict[str, int]:
    return {name: getattr(item, name) for name in reports.COUNT_NAMES}


def names(rows: list[reports.RecipientRow]) -> set[str]:
    return {row.recipient.split("@")[0] for row in rows}


def test_summary_counts_every_figure(store: SQLiteEventStore) -> None:
    assert counts(reports.summary(store)) == EXPECTED[None]


def test_rates_are_over_delivered_and_bounces_over_sent(store: SQLiteEventStore) -> None:
    total = reports.summary(store)
    assert total.open_rate == pytest.approx(4 / 7)
    assert total.unopened_rate == pytest.approx(3 / 7)
    assert total.click_rate == pytest.approx(3 / 7)
    assert total.complaint_rate == pytest.approx(1 / 7)
    assert total.delivery_rate == pytest.approx(7 / 9)
    assert total.hard_bounce_rate == pytest.approx(1 / 9)
    assert total.soft_bounce_rate == pytest.approx(1 / 9)
    document = total.as_dict()
    assert document["open_rate"] == round(4 / 7, 6) and document["sent"] == 9


def test_summary_for_one_category(store: SQLiteEventStore) -> None:
    for category in ("SIGNUP", "ORDER", "RESET"):
        assert counts(reports.summary(store, category=category)) == EXPECTED[category], category
    assert counts(reports.summary(store, category="NOPE")) == counts(Summary())


def test_by_category(store: SQLiteEventStore) -> None:
    rows = reports.by_category(store)
    assert [row.key for row in rows] == [None, "ORDER", "RESET", "SIGNUP"]
    for row in rows:
        assert counts(row) == EXPECTED[row.key if row.key is not None else ""], row.key


def test_by_day_adds_up_to_the_summary(store: SQLiteEventStore, scenario_path: Path) -> None:
    days = reports.by_day(store)
    sent_days = {r.sent_at.date().isoformat() for r in reports.iter_recipients(store)}
    assert {d.key for d in days if d.sent} == sent_days  # the UTC day of each send
    for name in reports.COUNT_NAMES:
        assert sum(getattr(d, name) for d in days) == EXPECTED[None][name], name


def test_the_period_selects_by_time_of_sending(store: SQLiteEventStore, midpoint: datetime) -> None:
    before = reports.summary(store, until=midpoint)
    after = reports.summary(store, since=midpoint)
    assert counts(before) == EXPECTED["SIGNUP"]
    assert after.sent == EXPECTED[None]["sent"] - 3
    assert after.opens == EXPECTED[None]["opens"] - EXPECTED["SIGNUP"]["opens"]
    assert names(reports.recipients(store, until=midpoint).rows) == {"a", "b", "c"}
    # only d's click on URL1 and h's on URL2 remain: a tie, ordered by URL
    assert [(u.url, u.clicks, u.unique_clickers) for u in reports.clicks_by_url(store, since=midpoint)] == [
        (URL2, 1, 1), (URL1, 1, 1)]
    assert reports.summary(store, since=midpoint + timedelta(days=1)).sent == 0


def test_clicks_by_url(store: SQLiteEventStore) -> None:
    assert [(u.url, u.clicks, u.unique_clickers) for u in reports.clicks_by_url(store)] == [
        (URL1, 3, 2), (URL2, 1, 1)]
    assert len(reports.clicks_by_url(store, limit=1)) == 1
    assert reports.clicks_by_url(store, category="ORDER") == [reports.UrlClicks(URL1, 1, 1)]


@pytest.mark.parametrize("status", STATUSES)
def test_recipients_by_status_match_the_summary(store: SQLiteEventStore, status: str) -> None:
    rows = reports.recipients(store, status=status).rows
    assert names(rows) == BY_STATUS[status]
    assert reports.count_recipients(store, status=status) == len(BY_STATUS[status])
    assert all(status in row.statuses for row in rows)
    figure = {"all": "sent", "opened": "opened", "not_opened": "unopened", "clicked": "clicked",
              "hard_bounce": "hard_bounces", "soft_bounce": "soft_bounces", "complaint": "complaints"}[status]
    assert len(rows) == EXPECTED[None][figure]


def test_recipient_details(store: SQLiteEventStore) -> None:
    rows = {row.recipient.split("@")[0]: row for row in reports.recipients(store).rows}
    assert {name: row.status for name, row in rows.items()} == LAST_STATUS
    assert (rows["a"].opens, rows["a"].clicks) == (3, 2)
    assert (rows["d"].opens, rows["d"].clicks) == (0, 1)
    assert rows["a"].category == "SIGNUP" and rows["h"].category is None
    assert rows["f"].reason == "hard bounce (no reason given)"
    assert rows["g"].reason == "soft bounce (no reason given)"
    assert rows["e"].reason == "marked as spam"
    assert rows["c"].reason is None and rows["c"].last_event_at is not None
    assert rows["a"].last_event_at is not None and rows["a"].last_event_at >= rows["a"].sent_at
    assert rows["d"].message_id == rows["e"].message_id  # one message, two recipients


def test_pages_walk_every_row_once_newest_first(store: SQLiteEventStore) -> None:
    seen: list[reports.RecipientRow] = []
    after = None
    while True:
        page = reports.recipients(store, limit=2, after=after)
        seen.extend(page.rows)
        if page.next is None:
            break
        after = page.next
    assert len(seen) == 9 and names(seen) == BY_STATUS["all"]
    assert [r.recipient for r in seen] == [r.recipient for r in reports.recipients(store, limit=9).rows]
    keys = [(r.sent_at, r.id) for r in seen]
    assert keys == sorted(keys, reverse=True)
    assert [r.recipient for r in reports.iter_recipients(store)] == [r.recipient for r in seen]


def test_recipients_csv(store: SQLiteEventStore) -> None:
    text = "".join(reports.recipients_csv(store, status="opened"))
    rows = list(csv.DictReader(io.StringIO(text)))
    assert tuple(rows[0]) == reports.RECIPIENT_COLUMNS
    assert {r["recipient"] for r in rows} == {addr(n) for n in BY_STATUS["opened"]}
    a = next(r for r in rows if r["recipient"] == addr("a"))
    assert (a["category"], a["status"], a["opens"], a["clicks"]) == ("SIGNUP", "clicked", "3", "2")
    assert datetime.fromisoformat(a["sent_at"]).tzinfo is not None


def test_summary_csv(store: SQLiteEventStore) -> None:
    rows = list(csv.DictReader(io.StringIO("".join(reports.summary_csv(store)))))
    total = rows[0]
    assert (total["scope"], total["key"]) == ("total", "")
    assert {k: int(total[k]) for k in reports.COUNT_NAMES} == EXPECTED[None]
    assert float(total["open_rate"]) == pytest.approx(4 / 7, abs=1e-4)
    categories = {r["key"]: r for r in rows if r["scope"] == "category"}
    assert set(categories) == {"", "ORDER", "RESET", "SIGNUP"}
    assert int(categories["ORDER"]["hard_bounces"]) == 1
    assert sum(int(r["sent"]) for r in rows if r["scope"] == "day") == 9


def _same_report(other: EventStore, reference: EventStore) -> None:
    assert counts(reports.summary(other)) == EXPECTED[None]
    assert [counts(c) for c in reports.by_category(other)] == [counts(c) for c in reports.by_category(reference)]
    assert [(d.key, counts(d)) for d in reports.by_day(other)] == [(d.key, counts(d)) for d in reports.by_day(reference)]
    assert reports.clicks_by_url(other) == reports.clicks_by_url(reference)
    for status in STATUSES:
        assert names(reports.recipients(other, status=status).rows) == BY_STATUS[status], status
    assert {(r.recipient, r.status, r.opens, r.clicks, r.reason) for r in reports.recipients(other).rows} == {
        (r.recipient, r.status, r.opens, r.clicks, r.reason) for r in reports.recipients(reference).rows}


def test_sqlalchemy_on_sqlite_gives_the_same_report(store: SQLiteEventStore, scenario_path: Path,
                                                   midpoint: datetime) -> None:
    with SQLAlchemyEventStore(f"sqlite:///{scenario_path}") as other:
        _same_report(other, store)
        assert counts(reports.summary(other, until=midpoint)) == EXPECTED["SIGNUP"]
        page = reports.recipients(other, limit=4)
        assert [r.recipient for r in reports.recipients(other, limit=4, after=page.next).rows] == [
            r.recipient for r in reports.recipients(store, limit=4, after=page.next).rows]


@pytest.mark.postgres
def test_postgres_end_to_end(postgres_url: str, pg_schema: str, store: SQLiteEventStore) -> None:
    with SQLAlchemyEventStore(postgres_url, schema=pg_schema) as pg:
        scenario = run_scenario(pg)
        _same_report(pg, store)
        assert counts(reports.summary(pg, until=scenario.midpoint)) == EXPECTED["SIGNUP"]
        assert counts(reports.summary(pg, since=scenario.midpoint, category="ORDER")) == EXPECTED["ORDER"]
        rows: list[reports.RecipientRow] = []
        page = reports.recipients(pg, limit=4)
        rows.extend(page.rows)
        while page.next:
            page = reports.recipients(pg, limit=4, after=page.next)
            rows.extend(page.rows)
        assert names(rows) == BY_STATUS["all"] and len(rows) == 9
