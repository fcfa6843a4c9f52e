"""The outbox on a real PostgreSQL: three worker processes share one outbox of 5,000 messages,
none is sent twice and none is left behind (FOR UPDATE SKIP LOCKED); a rolled-back transaction
sends nothing."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from acumbamail_smtp import Mailer, SQLAlchemyEventStore
from acumbamail_smtp.outbox import drain, outbox_for
from acumbamail_smtp.testserver import FakeRelay

from .conftest import message, relay_ids
from .workers import flagged, start_worker, stop_all, wait_until_drained

pytestmark = pytest.mark.postgres


def test_three_workers_share_one_outbox(postgres_url: str, pg_schema: str, tmp_path: Path) -> None:
    store = SQLAlchemyEventStore(postgres_url, schema=pg_schema)
    outbox = outbox_for(store)
    ids: list[str] = []
    for start in range(0, 5000, 1000):
        ids += outbox.enqueue([message(n) for n in range(start, start + 1000)])
    logs = [tmp_path / f"worker{n}.log" for n in range(3)]
    with FakeRelay(starttls=False, require_auth=False, http=False) as relay:
        workers = [start_worker(postgres_url, relay.port, logs[n], f"w{n}", pg_schema) for n in range(3)]
        try:
            wait_until_drained(outbox, 50)
        finally:
            stop_all(workers)
        received = relay_ids(relay)
    assert received == Counter(ids)  # each exactly once
    assert flagged(logs) == set()
    assert outbox.stats().sent == 5000
    with store.engine.connect() as conn:
        workers_used = {row[0] for row in conn.exec_driver_sql(f'SELECT DISTINCT worker FROM "{pg_schema}".outbox')}
    assert workers_used == {"w0", "w1", "w2"}  # the work was really shared
    store.close()


def test_a_rolled_back_transaction_sends_nothing(postgres_url: str, pg_schema: str, relay: FakeRelay) -> None:
    store = SQLAlchemyEventStore(postgres_url, schema=pg_schema)
    outbox = outbox_for(store)
    with store.engine.connect() as conn:
        transaction = conn.begin()
        outbox.enqueue(message(1), connection=conn)
        assert conn.exec_driver_sql(f'SELECT COUNT(*) FROM "{pg_schema}".outbox').scalar() == 1
        transaction.rollback()
    assert outbox.stats().queued == 0
    assert drain(outbox, Mailer(relay.client_config())).sent == 0
    assert relay.messages == []
    store.close()
