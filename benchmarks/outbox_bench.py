"""The outbox: enqueue throughput (batches of 100) on SQLite and, when
``$ACUMBAMAIL_TEST_POSTGRES_URL`` names a server, PostgreSQL; one worker draining 10,000 queued
messages (``drain`` over one connection, ``adrain`` over a pool of 8) against
``AsyncMailer.send_many`` direct, all to the lean sink on 127.0.0.1; and the drain's peak RSS with
1,000 and 100,000 (``--quick``: 10,000) queued, each in a fresh process. Not a test: nothing here
asserts a time. Standalone: ``python benchmarks/outbox_bench.py PORT [--quick]`` (a sink listening
on PORT) prints the rows as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DRAINED = 10_000
BATCH = 100


def _message(n: int) -> Any:
    from acumbamail_smtp import Message

    return Message(from_email="shop@example.com", to=f"user{n}@example.com", subject=f"Order {n}",
                   text=f"Thanks for order {n}.\n" * 20)


def _config(port: int) -> Any:
    from acumbamail_smtp import RelayConfig

    return RelayConfig(host="127.0.0.1", port=port, security="none", allow_insecure=True, max_tries=1,
                       username="bench@example.com", password="made-up-bench-pw")


def _fill(outbox: Any, count: int) -> float:
    """Enqueue ``count`` messages in batches; the messages per second."""
    started = time.perf_counter()
    for start in range(0, count, BATCH):
        outbox.enqueue([_message(n) for n in range(start, min(count, start + BATCH))])
    return count / (time.perf_counter() - started)


def enqueue_rate(location: str, count: int) -> float:
    from acumbamail_smtp.outbox import outbox_for

    return _fill(outbox_for(location), count)


def drain_rates(port: int, count: int) -> dict[str, float]:
    """Messages per second: drain (one connection), adrain (pool of 8), AsyncMailer.send_many (8)."""
    from acumbamail_smtp import AsyncMailer, Mailer
    from acumbamail_smtp.outbox import adrain, drain, outbox_for

    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        outbox = outbox_for(os.path.join(tmp, "sync.sqlite3"))
        _fill(outbox, count)
        started = time.perf_counter()
        report = drain(outbox, Mailer(_config(port)), batch=BATCH)
        out["drain"] = report.sent / (time.perf_counter() - started)
        outbox = outbox_for(os.path.join(tmp, "async.sqlite3"))
        _fill(outbox, count)

        async def pooled() -> int:
            async with AsyncMailer(_config(port), pool_size=8) as mailer:
                return (await adrain(outbox, mailer, batch=BATCH)).sent

        started = time.perf_counter()
        sent = asyncio.run(pooled())
        out["adrain"] = sent / (time.perf_counter() - started)
    messages = [_message(n) for n in range(count)]

    async def direct() -> int:
        async with AsyncMailer(_config(port), pool_size=8) as mailer:
            return len(await mailer.send_many(messages))

    started = time.perf_counter()
    sent = asyncio.run(direct())
    out["send_many"] = sent / (time.perf_counter() - started)
    return out


def _rss_child(port: int, count: int) -> None:
    """In a fresh process: enqueue ``count``, drain them, print the peak RSS in KiB."""
    from acumbamail_smtp import Mailer
    from acumbamail_smtp.outbox import drain, outbox_for

    with tempfile.TemporaryDirectory() as tmp:
        outbox = outbox_for(os.path.join(tmp, "rss.sqlite3"))
        _fill(outbox, count)
        drain(outbox, Mailer(_config(port)), batch=BATCH)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def peak_rss(port: int, count: int) -> int:
    done = subprocess.run([sys.executable, __file__, str(port), "--rss", str(count)], capture_output=True,
                          text=True, check=True, timeout=1800)
    return int(done.stdout.strip().splitlines()[-1])


def measure(port: int, quick: bool = False) -> dict[str, Any]:
    """Every row of this benchmark as one JSON-able dict."""
    with tempfile.TemporaryDirectory() as tmp:
        rows: dict[str, Any] = {"enqueue_per_s_sqlite": round(enqueue_rate(os.path.join(tmp, "q.sqlite3"),
                                                                            5000))}
    pg = os.environ.get("ACUMBAMAIL_TEST_POSTGRES_URL")
    if pg:
        from sqlalchemy import create_engine, text

        schema = f"bench_outbox_{os.getpid()}"
        engine = create_engine(pg)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            from acumbamail_smtp.outbox import Outbox, SQLAlchemyOutboxBackend

            rows["enqueue_per_s_postgresql"] = round(_fill(Outbox(SQLAlchemyOutboxBackend(pg, schema=schema)),
                                                           5000))
        finally:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()
    rates = drain_rates(port, DRAINED)
    rows.update({f"{name}_per_s": round(value) for name, value in rates.items()})
    rows["drain_vs_send_many"] = round(rates["drain"] / rates["send_many"], 2)
    rows["adrain_vs_send_many"] = round(rates["adrain"] / rates["send_many"], 2)
    big = 10_000 if quick else 100_000
    small_kb, big_kb = peak_rss(port, 1000), peak_rss(port, big)
    rows.update({"rss_kb_1000": small_kb, f"rss_kb_{big}": big_kb, "rss_ratio": round(big_kb / small_kb, 3)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("port", type=int, help="a sink listening on 127.0.0.1:PORT")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--rss", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss is not None:
        _rss_child(args.port, args.rss)
        return
    print(json.dumps(measure(args.port, args.quick), indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
