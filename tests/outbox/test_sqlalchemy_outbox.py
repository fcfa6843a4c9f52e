"""The SQLAlchemy outbox: enqueueing joins the caller's transaction (a rolled-back one sends
nothing), and adrain delivers over the AsyncMailer pool. SQLite here; PostgreSQL in test_postgres."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import AsyncMailer, Mailer, SQLAlchemyEventStore
from acumbamail_smtp.outbox import Outbox, adrain, drain, outbox_for
from acumbamail_smtp.testserver import FakeRelay
from sqlalchemy.orm import Session

from .conftest import message, relay_ids


@pytest.fixture
def sa_store(tmp_path: Path) -> Iterator[SQLAlchemyEventStore]:
    store = SQLAlchemyEventStore(f"sqlite:///{tmp_path / 'events.sqlite3'}")
    yield store
    store.close()


@pytest.fixture
def sa_outbox(sa_store: SQLAlchemyEventStore) -> Outbox:
    return outbox_for(sa_store)


def test_a_rolled_back_connection_sends_nothing(sa_outbox: Outbox, sa_store: SQLAlchemyEventStore,
                                                relay: FakeRelay) -> None:
    with sa_store.engine.connect() as conn:
        transaction = conn.begin()
        sa_outbox.enqueue(message(1), connection=conn)
        transaction.rollback()
    with sa_store.engine.connect() as conn, conn.begin():
        [kept] = sa_outbox.enqueue(message(2), connection=conn)
    assert sa_outbox.stats().queued == 1
    assert drain(sa_outbox, Mailer(relay.client_config())).sent == 1
    assert relay_ids(relay) == {kept: 1}


def test_a_rolled_back_session_sends_nothing(sa_outbox: Outbox, sa_store: SQLAlchemyEventStore,
                                             relay: FakeRelay) -> None:
    with Session(sa_store.engine) as session:
        sa_outbox.enqueue(message(1), connection=session)
        session.rollback()
        [kept] = sa_outbox.enqueue(message(2), connection=session)
        session.commit()
    assert drain(sa_outbox, Mailer(relay.client_config())).sent == 1
    assert relay_ids(relay) == {kept: 1}


async def test_adrain_sends_over_the_pool(sa_outbox: Outbox, sa_store: SQLAlchemyEventStore,
                                          relay: FakeRelay) -> None:
    ids = sa_outbox.enqueue([message(n) for n in range(25)])
    relay.fail_next_data(451, "4.3.0 try again later")
    async with AsyncMailer(relay.client_config(max_tries=1, retry_backoff=0.0), store=sa_store,
                           pool_size=3) as mailer:
        report = await adrain(sa_outbox, mailer, batch=10)
    assert (report.sent, report.retried, report.failed) == (25, 1, 0)
    assert relay_ids(relay) == Counter(ids)
    assert sa_outbox.stats().sent == 25
    assert {r.message_id for r in sa_store.sends()} == set(ids)
