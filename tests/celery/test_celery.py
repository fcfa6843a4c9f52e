"""The Celery adapter end to end: a real Redis broker, real ``celery worker`` processes, the fake
relay; every message counted by Message-ID at the relay."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest
from acumbamail_smtp import Message
from acumbamail_smtp.integrations.celery import BEAT_ENTRY, TASK_NAME, enqueue, trigger_drain
from acumbamail_smtp.outbox import outbox_for
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.testserver import FakeRelay

from tests.celery.conftest import SENDER, worker_logs
from tests.celery.worker_app import make_app


def messages(count: int, tag: str = "m") -> list[Message]:
    return [Message(from_email=SENDER, to=f"{tag}{i}@example.com", subject=f"Order {i}",
                    text=f"Thanks for order {i}.\n", category="ORDER") for i in range(count)]


def relay_ids(relay: FakeRelay) -> Counter[str]:
    """How many times each Message-ID reached the relay."""
    return Counter(str(m.message["Message-ID"]) for m in relay.messages)


def wait_until(condition, timeout: float, what: str, logs: Path) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout}s; worker logs:\n{worker_logs(logs)}")
        time.sleep(0.1)


def test_enqueue_queues_the_task_and_a_worker_sends(broker: str, relay: FakeRelay, start_worker,
                                                    tmp_path: Path) -> None:
    store_path = str(tmp_path / "outbox.sqlite3")
    app = make_app(broker, store_path)
    outbox = outbox_for(open_store(store_path))
    start_worker(broker, relay, store_path)

    ids = enqueue(outbox, messages(3), app=app)

    wait_until(lambda: len(relay.messages) >= 3, 60, "the worker sent 3 messages", tmp_path)
    assert relay_ids(relay) == Counter(ids)
    wait_until(lambda: outbox.stats().sent == 3, 10, "the outbox marked them sent", tmp_path)
    assert outbox.stats().queued == 0


def test_the_task_reports_what_it_did(broker: str, relay: FakeRelay, start_worker, tmp_path: Path) -> None:
    store_path = str(tmp_path / "outbox.sqlite3")
    app = make_app(broker, store_path)
    outbox = outbox_for(open_store(store_path))
    outbox.enqueue(messages(2))
    relay.refuse_recipient("m1@example.com")  # a 5xx: failed for good, not retried
    start_worker(broker, relay, store_path)

    report = trigger_drain(app).get(timeout=60)

    assert report == {"sent": 1, "retried": 0, "failed": 1, "ambiguous": 0}
    assert outbox.stats().failed == 1


def test_beat_drains_what_no_trigger_announced(broker: str, relay: FakeRelay, start_worker,
                                               tmp_path: Path) -> None:
    store_path = str(tmp_path / "outbox.sqlite3")
    outbox = outbox_for(open_store(store_path))
    ids = outbox.enqueue(messages(2))  # straight into the outbox: no task queued
    start_worker(broker, relay, store_path, beat=1.0)

    wait_until(lambda: len(relay.messages) >= 2, 60, "beat's run sent 2 messages", tmp_path)
    assert relay_ids(relay) == Counter(ids)


def test_configure_adds_the_beat_entry_and_keeps_others(tmp_path: Path) -> None:
    from celery import Celery

    app = Celery("beat_test")
    app.conf.beat_schedule = {"nightly": {"task": "shop.nightly", "schedule": 86400.0}}
    from acumbamail_smtp.integrations.celery import configure

    configure(app, store=str(tmp_path / "s.sqlite3"), beat=30)
    assert app.conf.beat_schedule[BEAT_ENTRY] == {"task": TASK_NAME, "schedule": 30.0}
    assert "nightly" in app.conf.beat_schedule


def test_session_commit_queues_the_task_rollback_does_not(broker: str, tmp_path: Path) -> None:
    import redis
    from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore
    from sqlalchemy.orm import Session

    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    store = SQLAlchemyEventStore(url)
    outbox = outbox_for(store)
    app = make_app(broker, url)
    queue = redis.Redis.from_url(broker)

    with Session(store.engine) as session:
        enqueue(outbox, messages(1, "rolled"), connection=session, app=app)
        session.rollback()
    assert queue.llen("celery") == 0
    assert outbox.stats().queued == 0

    with Session(store.engine) as session:
        enqueue(outbox, messages(1, "kept"), connection=session, app=app)
        assert queue.llen("celery") == 0, "queued before the commit: a worker would find nothing"
        session.commit()
    assert queue.llen("celery") == 1
    assert outbox.stats().queued == 1


def test_enqueue_with_a_bare_connection_asks_for_a_commit_hook(tmp_path: Path, broker: str) -> None:
    from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore

    url = f"sqlite:///{tmp_path / 'outbox.sqlite3'}"
    store = SQLAlchemyEventStore(url)
    outbox = outbox_for(store)
    app = make_app(broker, url)
    hooks: list[object] = []
    with store.engine.begin() as connection:
        enqueue(outbox, messages(1), connection=connection, app=app, on_commit=hooks.append)
        with pytest.raises(TypeError, match="on_commit"):
            enqueue(outbox, messages(1), connection=connection, app=app)
    assert len(hooks) == 1


@pytest.mark.postgres
def test_workers_share_one_postgres_outbox(broker: str, relay: FakeRelay, start_worker, tmp_path: Path,
                                           postgres_url: str, pg_schema: str) -> None:
    from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore

    store = SQLAlchemyEventStore(postgres_url, schema=pg_schema)
    outbox = outbox_for(store)
    app = make_app(broker, postgres_url, schema=pg_schema)
    ids = outbox.enqueue(messages(300))
    start_worker(broker, relay, postgres_url, schema=pg_schema, concurrency=2)
    start_worker(broker, relay, postgres_url, schema=pg_schema)

    runs = [trigger_drain(app) for _ in range(6)]  # all drain at once, each claiming its own batches
    reports = [run.get(timeout=120) for run in runs]

    assert sum(r["sent"] for r in reports) == 300
    assert relay_ids(relay) == Counter(ids), "a message sent twice or left behind"
    assert sum(1 for r in reports if r["sent"]) >= 2, "one worker did everything: nothing was shared"
    assert outbox.stats().queued == 0
