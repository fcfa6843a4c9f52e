"""Report queries over a large event store: the summary and a filtered recipient page over
1,000,000 stored events on SQLite, and on PostgreSQL when ``ACUMBAMAIL_TEST_POSTGRES_URL`` is set.

Prints the timings (best of a few runs) and the query plans (SQLite's EXPLAIN QUERY PLAN,
PostgreSQL's EXPLAIN) that show the indexes in use. Data is generated in batches, inserted with
``executemany`` on SQLite and ``COPY`` on PostgreSQL. Not a test: nothing here asserts a time.

    python benchmarks/reports_bench.py [--events 1000000] [--runs 3] [--no-postgres] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from acumbamail_smtp import reports
from acumbamail_smtp.reports.queries import ReportFilter, recipients_sql, summary_sql
from acumbamail_smtp.store.sqlite import SQLiteEventStore

POSTGRES_ENV = "ACUMBAMAIL_TEST_POSTGRES_URL"
START = datetime(2024, 4, 1, tzinfo=UTC)
DAYS = 30
CATEGORIES = ("SIGNUP", "ORDER_CONFIRMATION", "PASSWORD_RECOVERY", "NEWSLETTER", None)
URLS = [f"https://shop.example.com/page/{n}" for n in range(40)]
BATCH = 20_000


Rows = list[tuple[Any, ...]]


def generate(events: int, seed: int = 7) -> Iterator[tuple[Rows, Rows]]:
    """Batches of (sends rows, events rows) with ``events`` events in all: per send a
    delivered (or a bounce), some opens and clicks, a rare complaint."""
    rng = random.Random(seed)
    total_sends = max(events // 3, 1)  # about three events per send
    seconds = DAYS * 86_400
    made = 0
    send_rows: list[tuple[Any, ...]] = []
    event_rows: list[tuple[Any, ...]] = []
    for n in range(total_sends):
        sent_at = START + timedelta(seconds=seconds * n / total_sends)
        recipient = f"user{rng.randrange(total_sends // 3)}@example.org"
        message_id = f"<m{n}@bench.example.com>"
        queue_id = f"Q{n:08X}"
        category = CATEGORIES[n % len(CATEGORIES)]
        send_rows.append((recipient, message_id, queue_id, category, sent_at, "sent"))
        roll = rng.random()
        kinds = ["hard_bounce"] if roll < 0.02 else ["soft_bounce"] if roll < 0.04 else ["delivered"]
        if kinds == ["delivered"]:
            kinds += ["opened"] * rng.choice((0, 0, 1, 1, 2, 3, 5))
            if "opened" in kinds and rng.random() < 0.4:
                kinds += ["clicked"] * rng.choice((1, 1, 2))
            if rng.random() < 0.002:
                kinds.append("complaint")
        for offset, kind in enumerate(kinds):
            made += 1
            when = sent_at + timedelta(seconds=30 + offset * 600)
            url = rng.choice(URLS) if kind == "clicked" else None
            event_rows.append((f"{made:064x}", kind, recipient, when, queue_id, url, category, message_id,
                               when))
        if len(event_rows) >= BATCH:
            yield send_rows, event_rows
            send_rows, event_rows = [], []
        if made >= events:
            break
    yield send_rows, event_rows


def ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(path: Path, events: int) -> tuple[int, int]:
    SQLiteEventStore(path).close()  # the schema and indexes, as users get them
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")
    sends = stored = 0
    with conn:
        for send_rows, event_rows in generate(events):
            conn.executemany("INSERT INTO sends (recipient, message_id, queue_id, category, sent_at, status)"
                             " VALUES (?, ?, ?, ?, ?, ?)", [(*r[:4], ts(r[4]), r[5]) for r in send_rows])
            conn.executemany("INSERT INTO events (event_id, type, recipient, timestamp, message_key, url,"
                             " category, message_id, raw, received_at)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, '{}', ?)",
                             [(*r[:3], ts(r[3]), *r[4:8], ts(r[8])) for r in event_rows])
            sends += len(send_rows)
            stored += len(event_rows)
    conn.execute("ANALYZE")
    conn.close()
    return sends, stored


def load_postgres(store: Any, schema: str, events: int) -> tuple[int, int]:
    sends_table, events_table = f'"{schema}".sends', f'"{schema}".events'
    sends = stored = 0
    raw = store.engine.raw_connection()
    try:
        cursor = raw.cursor()
        for send_rows, event_rows in generate(events):
            with cursor.copy(f"COPY {sends_table} (recipient, message_id, queue_id, category, sent_at,"
                             " status) FROM STDIN") as copy:
                for row in send_rows:
                    copy.write_row(row)
            with cursor.copy(f"COPY {events_table} (event_id, type, recipient, timestamp, message_key, url,"
                             " category, message_id, received_at, raw) FROM STDIN") as copy:
                for row in event_rows:
                    copy.write_row((*row, "{}"))
            sends += len(send_rows)
            stored += len(event_rows)
        raw.commit()
        cursor.execute(f"ANALYZE {sends_table}")
        cursor.execute(f"ANALYZE {events_table}")
        raw.commit()
    finally:
        raw.close()
    return sends, stored


def best(runs: int, call: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(store: Any, runs: int) -> dict[str, float]:
    week = (START + timedelta(days=10), START + timedelta(days=17))
    deep = reports.recipients(store, status="opened", limit=100)
    for _ in range(20):
        deep = reports.recipients(store, status="opened", limit=100, after=deep.next)
    cases: dict[str, Callable[[], object]] = {
        "summary, all 30 days": lambda: reports.summary(store),
        "summary, one week": lambda: reports.summary(store, *week),
        "summary, one week, one category": lambda: reports.summary(store, *week,
                                                                   category="ORDER_CONFIRMATION"),
        "by_category, one week": lambda: reports.by_category(store, *week),
        "by_day, all 30 days": lambda: reports.by_day(store),
        "clicks_by_url, one week": lambda: reports.clicks_by_url(store, *week),
        "recipients page, status=opened, first 100": lambda: reports.recipients(store, status="opened",
                                                                                limit=100),
        "recipients page, status=opened, page 21 (keyset)": lambda: reports.recipients(
            store, status="opened", limit=100, after=deep.next),
        "recipients page, one week, category, status=hard_bounce": lambda: reports.recipients(
            store, *week, category="SIGNUP", status="hard_bounce", limit=100),
    }
    return {name: best(runs, call) for name, call in cases.items()}


def plans(store: Any) -> dict[str, list[str]]:
    week = ReportFilter(START + timedelta(days=10), START + timedelta(days=17))
    prefix = "EXPLAIN QUERY PLAN " if store.dialect == "sqlite" else "EXPLAIN "
    out = {}
    sql, params = summary_sql(store, week)
    out["summary, one week"] = [" | ".join(map(str, row)) for row in store.read_sql(prefix + sql, params)]
    params = {}
    sql = recipients_sql(ReportFilter(status="opened"), params, limit=100)
    out["recipients page, status=opened"] = [" | ".join(map(str, row))
                                             for row in store.read_sql(prefix + sql, params)]
    return out


def report(name: str, timings: dict[str, float], query_plans: dict[str, list[str]]) -> None:
    print(f"\n== {name}")
    width = max(len(k) for k in timings)
    for case, seconds in timings.items():
        print(f"  {case.ljust(width)}  {seconds * 1000:9.1f} ms")
    for case, lines in query_plans.items():
        print(f"\n  plan: {case}")
        for line in lines:
            print(f"    {line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", metavar="FILE", help="also write the timings as JSON")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"events": args.events}
    with tempfile.TemporaryDirectory(prefix="acumbamail-reports-bench-") as folder:
        path = Path(folder) / "events.sqlite3"
        started = time.perf_counter()
        sends, stored = load_sqlite(path, args.events)
        print(f"SQLite: {sends} sends, {stored} events loaded in {time.perf_counter() - started:.1f} s")
        with SQLiteEventStore(path) as store:
            timings = measure(store, args.runs)
            report("SQLite", timings, plans(store))
            results["sqlite"] = timings
    url = os.environ.get(POSTGRES_ENV)
    if url and not args.no_postgres:
        from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore
        from sqlalchemy import create_engine, text

        schema = f"acm_bench_{uuid.uuid4().hex[:10]}"
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            with SQLAlchemyEventStore(url, schema=schema) as pg:
                started = time.perf_counter()
                sends, stored = load_postgres(pg, schema, args.events)
                elapsed = time.perf_counter() - started
                print(f"\nPostgreSQL: {sends} sends, {stored} events loaded in {elapsed:.1f} s")
                timings = measure(pg, args.runs)
                report("PostgreSQL", timings, plans(pg))
                results["postgresql"] = timings
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    elif not args.no_postgres:
        print(f"\n(PostgreSQL skipped: {POSTGRES_ENV} is not set)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
