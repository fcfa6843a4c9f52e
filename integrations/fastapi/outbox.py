"""The lifespan's outbox worker: drains the outbox with ``adrain`` in the app's own event loop
(one machine, no broker), at once after each ``mailer.enqueue`` and every ``poll`` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from acumbamail_smtp.outbox import adrain

from .mailer import FastAPIMailer

logger = logging.getLogger("acumbamail_smtp.fastapi")


async def drain_forever(mailer: FastAPIMailer, *, poll: float = 1.0) -> None:
    """Drain the mailer's outbox over its pool until cancelled; a failed drain is logged and tried
    again after ``poll`` (messages stay queued: nothing is lost)."""
    outbox = mailer.outbox
    while True:
        mailer.enqueued.clear()
        try:
            await adrain(outbox, mailer)
        except Exception:
            logger.exception("draining the outbox failed; trying again in %gs", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(mailer.enqueued.wait(), poll)


@contextlib.asynccontextmanager
async def outbox_worker(mailer: FastAPIMailer, *, poll: float = 1.0) -> AsyncIterator[asyncio.Task[None]]:
    """Run :func:`drain_forever` as a task for the ``async with`` block; cancelled at its end (a
    message being sent then keeps its lease and is sent by the next worker after it expires)."""
    task = asyncio.create_task(drain_forever(mailer, poll=poll), name="acumbamail-outbox-worker")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
