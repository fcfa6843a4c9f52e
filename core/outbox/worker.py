""":func:`run_worker`: the embedded worker, one machine and no broker: drain, sleep, repeat."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import signal
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from ..config import RelayConfig
from ..store.protocols import SendStore
from ..telemetry import hooks as telemetry
from .api import Outbox
from .delivery import drain
from .model import DrainReport

if TYPE_CHECKING:
    from ..smtp.sync import Mailer

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
               deadline: timedelta = timedelta(days=1), worker: str | None = None,
               mailer: Mailer | None = None) -> DrainReport:
    """Drain ``outbox`` through a :class:`~acumbamail_smtp.Mailer` on ``config`` (recording in
    ``store``), sleep ``poll`` seconds when nothing is due, until ``stop`` is set or SIGTERM/SIGINT;
    the counts of every drain. The mailer tries each message once: retries are the outbox's.
    ``mailer`` replaces it (an adapter's, e.g. one that sends its framework's signals)."""
    from ..smtp.sync import Mailer

    stop = stop if stop is not None else threading.Event()
    if mailer is None:
        mailer = Mailer(dataclasses.replace(config, max_tries=1), store=store)
    total = DrainReport()
    telemetry.observe_outbox(lambda: _depth(outbox))  # gauges while this worker runs (with otel)
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


def _depth(outbox: Outbox) -> tuple[int, float | None]:
    """What the outbox gauges report: messages waiting (queued or in flight), oldest age."""
    stats = outbox.stats()
    return stats.queued + stats.in_flight, stats.oldest_queued_age


__all__ = ["run_worker"]
