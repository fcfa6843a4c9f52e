"""``manage.py acumbamail_worker``: send what ``QueuedEmailBackend`` queued, with the project's
relay settings and the ORM event store; loops until SIGTERM/SIGINT, or drains once with ``--once``."""

from __future__ import annotations

import signal
import threading
from argparse import ArgumentParser
from typing import Any

from django.core.management import BaseCommand

from ...worker import drain_from_settings, run_forever


class Command(BaseCommand):
    help = "Send the queued messages of the outbox (loops until stopped; --once drains and exits)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--once", action="store_true", help="drain what is due, then exit")
        parser.add_argument("--poll", type=float, default=1.0, help="seconds between drains (default 1)")
        parser.add_argument("--batch", type=int, default=100, help="messages claimed at a time (default 100)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            report = drain_from_settings(batch=options["batch"])
            self.stdout.write(f"sent {report.sent}, retried {report.retried}, failed {report.failed}, "
                              f"ambiguous {report.ambiguous}")
            return
        stop = threading.Event()
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, lambda *_: stop.set())
        sent = run_forever(stop, poll=options["poll"], batch=options["batch"])
        self.stdout.write(f"stopped; sent {sent}")
