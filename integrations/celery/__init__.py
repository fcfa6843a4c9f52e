"""Celery adapter: Celery workers drain the outbox (:mod:`acumbamail_smtp.outbox`).

    from celery import Celery
    from acumbamail_smtp.integrations.celery import configure, enqueue

    app = Celery("shop", broker="redis://127.0.0.1:6379/0")
    configure(app, store="postgresql+psycopg://.../shop")   # relay settings from ACUMBAMAIL_*

    enqueue(outbox, message)          # stored now; drain_outbox runs after the commit

``drain_outbox`` (task ``acumbamail_smtp.drain_outbox``) drains until nothing is due; beat runs it
every minute as a safety net. Several workers share one outbox: claims never overlap.
"""

from .tasks import BEAT_ENTRY, TASK_NAME, configure, drain_outbox, enqueue, outbox_of, trigger_drain

__all__ = ["BEAT_ENTRY", "TASK_NAME", "configure", "drain_outbox", "enqueue", "outbox_of", "trigger_drain"]
