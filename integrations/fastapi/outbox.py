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


async def drain_forever(mailer: FastAPIMailer, stop: asyncio.Event, *, poll: float = 1.0) -> None:
    """Drain the mailer's outbox over its pool until ``stop`` is set; a failed drain is logged and
    tried again after ``poll`` (messages stay queued: nothing is lost)."""
    outbox = mailer.outbox_queue
    while not stop.is_set():
        mailer.enqueued.clear()
        try:
            await adrain(outbox, mailer)
        except Exception:
            logger.exception("draining the outbox failed; trying again in %gs", poll)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(mailer.enqueued.wait(), poll)


@contextlib.asynccontextmanager
async def outbox_worker(mailer: FastAPIMailer, *, poll: float = 1.0,
                        grace: float = 30.0) -> AsyncIterator[asyncio.Task[None]]:
    """Run :func:`drain_forever` as a task for the ``async with`` block. At its end the drain under
    way finishes (up to ``grace`` seconds) so that every message sent is marked sent; past that it
    is cancelled, and a message left in flight is sent again once its lease expires."""
    stop = asyncio.Event()
    task = asyncio.create_task(drain_forever(mailer, stop, poll=poll), name="acumbamail-outbox-worker")
    try:
        yield task
    finally:
        stop.set()
        mailer.enqueued.set()
        try:
            await asyncio.wait_for(task, grace)
        except TimeoutError:
            logger.warning("the outbox worker did not stop within %gs: cancelled", grace)
