"""The Celery app the tests' worker processes run (``celery -A tests.celery.worker_app worker``).

Everything comes from the environment the fixture gives the worker: the broker, the outbox's
store (and PostgreSQL schema), the beat interval; the relay from the ``ACUMBAMAIL_*`` variables.
"""

from __future__ import annotations

import os

from acumbamail_smtp.integrations.celery import configure
from acumbamail_smtp.store.protocols import EventStore
from celery import Celery


def make_app(broker: str, store: str, *, schema: str | None = None, beat: float | None = None) -> Celery:
    """A Celery app on ``broker`` (also the result backend) draining the outbox in ``store``."""
    app = Celery("acumbamail_tests", broker=broker, backend=broker)
    app.conf.update(broker_connection_retry_on_startup=True, worker_prefetch_multiplier=1,
                    task_acks_late=True)

    def open_store() -> EventStore:
        if schema is None:
            from acumbamail_smtp.store.open import open_store as by_location

            return by_location(store)
        from acumbamail_smtp.store.sqlalchemy import SQLAlchemyEventStore

        return SQLAlchemyEventStore(store, schema=schema)

    configure(app, store=open_store, beat=beat)
    return app


if "ACUMBAMAIL_TEST_BROKER" in os.environ:
    beat_every = os.environ.get("ACUMBAMAIL_TEST_BEAT")
    app = make_app(os.environ["ACUMBAMAIL_TEST_BROKER"], os.environ["ACUMBAMAIL_TEST_STORE"],
                   schema=os.environ.get("ACUMBAMAIL_TEST_SCHEMA"),
                   beat=float(beat_every) if beat_every else None)
