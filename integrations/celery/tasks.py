"""The ``drain_outbox`` task, its trigger after a commit and its beat entry.

What the task drains comes from the Celery app's configuration, read in each worker process:
``acumbamail_outbox`` (a callable returning an :class:`~acumbamail_smtp.outbox.Outbox`, e.g. the
Django adapter's), else ``acumbamail_store`` (an event store, a callable opening one, or its
location; default ``$ACUMBAMAIL_STORE``). The relay is ``acumbamail_relay`` (a RelayConfig), else
``RelayConfig.from_env()``. :func:`configure` sets these and the beat entry.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.message.model import Message
from acumbamail_smtp.outbox import Outbox, drain, outbox_for
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.store.protocols import EventStore
from celery import Celery, Task, current_app, shared_task
from celery.result import AsyncResult

#: The task's registered name (for ``send_task``, routes and beat).
TASK_NAME = "acumbamail_smtp.drain_outbox"
#: The key of the safety-net entry :func:`configure` puts in ``beat_schedule``.
BEAT_ENTRY = "acumbamail-drain-outbox"

#: Each worker process's outbox and store per Celery app, opened on first use (after the fork).
_OPENED: dict[tuple[int, int], tuple[Outbox, EventStore | None]] = {}
_LOCK = threading.Lock()


#: What ``acumbamail_store`` may hold.
StoreSetting = str | os.PathLike[str] | EventStore | Callable[[], EventStore] | None


def configure(app: Celery, *, store: StoreSetting = None,
              outbox: Callable[[], Outbox] | None = None, relay: RelayConfig | None = None,
              beat: float | None = 60.0, batch: int = 100, lease: float = 60.0) -> None:
    """Tell ``app``'s workers what to drain (``store``, or ``outbox``), through which relay, and
    add the beat entry running ``drain_outbox`` every ``beat`` seconds (None: no entry)."""
    app.conf.update(acumbamail_store=store, acumbamail_outbox=outbox, acumbamail_relay=relay,
                    acumbamail_batch=batch, acumbamail_lease=lease)
    if beat is not None:
        schedule = dict(app.conf.beat_schedule or {})
        schedule[BEAT_ENTRY] = {"task": TASK_NAME, "schedule": float(beat)}
        app.conf.beat_schedule = schedule


def outbox_of(app: Celery) -> tuple[Outbox, EventStore | None]:
    """This process's outbox for ``app`` (and the event store sends are recorded in)."""
    key = (os.getpid(), id(app))
    with _LOCK:
        opened = _OPENED.get(key)
        if opened is None:
            factory = app.conf.get("acumbamail_outbox")
            if factory is not None:
                opened = (factory(), None)
            else:
                location = app.conf.get("acumbamail_store")
                store = _open(location)
                opened = (outbox_for(store), store)
            _OPENED[key] = opened
        return opened


def _open(location: StoreSetting) -> EventStore:
    if isinstance(location, EventStore):
        return location
    if callable(location):
        return location()
    return open_store(location)


def _drain_outbox(self: Task[Any, Any]) -> dict[str, int]:
    """Send every due message of the outbox over one connection; the counts of what happened."""
    app = self.app
    outbox, store = outbox_of(app)
    relay = app.conf.get("acumbamail_relay") or RelayConfig.from_env()
    report = drain(outbox, Mailer(relay, store=store), batch=int(app.conf.get("acumbamail_batch") or 100),
                   lease=float(app.conf.get("acumbamail_lease") or 60.0))
    return {"sent": report.sent, "retried": report.retried, "failed": report.failed,
            "ambiguous": report.ambiguous}


#: The task: ``drain_outbox.delay()`` (or :func:`trigger_drain`) queues a run.
drain_outbox: Any = shared_task(bind=True, name=TASK_NAME, ignore_result=False)(_drain_outbox)


def trigger_drain(app: Celery | None = None) -> AsyncResult:
    """Queue one ``drain_outbox`` run on ``app`` (default: the current Celery app)."""
    return (app or current_app).send_task(TASK_NAME)


def enqueue(outbox: Outbox, messages: Message | Sequence[Message], *, connection: Any = None,
            on_commit: Callable[[Callable[[], None]], object] | None = None, app: Celery | None = None,
            **options: Any) -> list[str]:
    """``outbox.enqueue(...)``, then a ``drain_outbox`` run once the rows are committed.

    Without ``connection`` the outbox commits itself: the task is queued now. With a SQLAlchemy
    Session it is queued after that session commits (nothing on rollback). Otherwise pass the
    transaction's hook as ``on_commit`` (Django: ``transaction.on_commit``).
    """
    ids: list[str] = outbox.enqueue(messages, connection=connection, **options)

    def trigger() -> None:
        trigger_drain(app)

    if on_commit is not None:
        on_commit(trigger)
    elif connection is None:
        trigger()
    else:
        _after_session_commit(connection, trigger)
    return ids


def _after_session_commit(connection: Any, trigger: Callable[[], None]) -> None:
    """Run ``trigger`` after a SQLAlchemy Session's commit; a bare Connection has no such event."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    if not isinstance(connection, Session):
        raise TypeError("enqueue(connection=...) runs the task after a Session's commit; for a "
                        f"{type(connection).__name__} pass on_commit= or call trigger_drain() after it")

    done = False

    def committed(session: Session) -> None:
        nonlocal done
        if not done:
            done = True
            trigger()

    def rolled_back(session: Session, previous: Any) -> None:
        nonlocal done
        done = True  # the rows went with the transaction: nothing to drain (beat checks anyway)

    event.listen(connection, "after_commit", committed, once=True)
    event.listen(connection, "after_soft_rollback", rolled_back, once=True)
