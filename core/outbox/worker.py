""":func:`run_worker`: the embedded worker, one machine and no broker: drain, sleep, repeat."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from ..config import RelayConfig
from ..store.protocols import SendStore
from .api import Outbox
from .drain import drain
from .model import DrainReport

logger = logging.getLogger("acumbamail_smtp.outbox")


@contextlib.contextmanager
def _stopping_on_signals(stop: threading.Event) -> Iterator[None]:
    """Set ``stop`` on SIGTERM/SIGINT while inside (only the main thread can take signals)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        logger.info("outbox worker: signal %d, stopping after the current message", signum)
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def run_worker(outbox: Outbox, config: RelayConfig, *, poll: float = 1.0, stop: threading.Event | None = None,
               store: SendStore | None = None, batch: int = 100, lease: float = 60.0,
               deadline: timedelta = timedelta(days=1), worker: str | None = None) -> DrainReport:
    """Drain ``outbox`` through a :class:`~acumbamail_smtp.Mailer` on ``config`` (recording in
    ``store``), sleep ``poll`` seconds when nothing is due, until ``stop`` is set or SIGTERM/SIGINT;
    the counts of every drain. The mailer tries each message once: retries are the outbox's."""
    from ..smtp.sync import Mailer

    stop = stop if stop is not None else threading.Event()
    mailer = Mailer(dataclasses.replace(config, max_tries=1), store=store)
    total = DrainReport()
    with _stopping_on_signals(stop):
        while not stop.is_set():
            report = drain(outbox, mailer, batch=batch, lease=lease, worker=worker, deadline=deadline,
                           stop=stop)
            total.add(report)
            if report.sent or report.failed:
                logger.info("outbox worker: %d sent, %d retried, %d failed, %d ambiguous",
                            report.sent, report.retried, report.failed, report.ambiguous)
            if not (report.sent or report.retried or report.failed):
                stop.wait(poll)
            elif report.retried and not report.sent:
                stop.wait(poll)  # the relay is unreachable: do not spin on it
    mailer.close()
    return total


__all__ = ["run_worker"]
