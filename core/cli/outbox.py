"""``acumbamail-smtp outbox list|retry|purge|stats`` and ``acumbamail-smtp worker``: look after the
outbox and run the embedded worker (one machine, no broker) on a store's database."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import sys
from datetime import timedelta
from typing import Any

from ..config import RelayConfig
from ..outbox import STATUSES, Outbox, drain, outbox_for, run_worker
from ..store.common import DEFAULT_STORE_PATH, STORE_ENV
from ..store.open import open_store

_STORE_HELP = (f"SQLite path or SQLAlchemy URL of the store (default: ${STORE_ENV}, "
               f"else {DEFAULT_STORE_PATH})")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("outbox", help="list, retry, purge and count the queued messages",
                                   description="The outbox of background sending, in the store's database.")
    parser.add_argument("--store", metavar="URL", help=_STORE_HELP)
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="the messages, oldest first")
    listing.add_argument("--status", choices=STATUSES, default=None)
    listing.add_argument("--limit", type=int, default=50, metavar="N")
    listing.add_argument("--json", action="store_true", help="one JSON object a line")
    listing.set_defaults(func=run_list)
    retry = actions.add_parser("retry", help="queue failed messages again")
    retry.add_argument("message_ids", nargs="*", metavar="MESSAGE_ID", help="only these (default: every one)")
    retry.set_defaults(func=run_retry)
    purge = actions.add_parser("purge", help="delete messages of a status")
    purge.add_argument("--status", choices=STATUSES, default="sent")
    purge.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                       help="only those enqueued more than DAYS ago")
    purge.set_defaults(func=run_purge)
    stats = actions.add_parser("stats", help="queued, in flight, failed, sent, oldest age")
    stats.set_defaults(func=run_stats)

    worker = subparsers.add_parser("worker", help="send the outbox's messages in the background",
                                   description="Drain the outbox through the relay configured by the "
                                               "ACUMBAMAIL_* environment, until SIGTERM or Ctrl-C.")
    worker.add_argument("--store", metavar="URL", help=_STORE_HELP)
    worker.add_argument("--batch", type=int, default=100, metavar="N", help="messages per claim (100)")
    worker.add_argument("--lease", type=float, default=60.0, metavar="SECONDS",
                        help="how long a claim is held before another worker may take it over (60)")
    worker.add_argument("--poll", type=float, default=1.0, metavar="SECONDS",
                        help="pause when nothing is due (1)")
    worker.add_argument("--deadline", type=float, default=24.0, metavar="HOURS",
                        help="give up on a message this long after it was enqueued (24)")
    worker.add_argument("--once", action="store_true", help="drain what is due, then exit")
    worker.set_defaults(func=run_worker_command)


def _outbox(args: argparse.Namespace) -> Outbox:
    return outbox_for(args.store or open_store_location())


def open_store_location() -> str:
    """The store location the commands use without ``--store``."""
    return os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH


def run_list(args: argparse.Namespace) -> int:
    for item in _outbox(args).list(args.status, args.limit):
        if args.json:
            print(json.dumps({"message_id": item.message_id, "status": item.status, "attempts": item.attempts,
                              "recipients": item.recipients, "category": item.category,
                              "created_at": item.created_at.isoformat(), "last_error": item.last_error,
                              "queue_id": item.queue_id}))
        else:
            print(f"{item.created_at:%Y-%m-%d %H:%M:%S}  {item.status:<9}  {item.attempts:>3}  "
                  f"{item.message_id}  {', '.join(item.recipients)}"
                  + (f"  ({item.last_error})" if item.last_error else ""))
    return 0


def run_retry(args: argparse.Namespace) -> int:
    count = _outbox(args).retry(args.message_ids or None)
    print(f"{count} message(s) queued again")
    return 0


def run_purge(args: argparse.Namespace) -> int:
    older = timedelta(days=args.older_than) if args.older_than is not None else None
    count = _outbox(args).purge(args.status, older)
    print(f"{count} {args.status} message(s) deleted")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    stats = _outbox(args).stats()
    age = "-" if stats.oldest_queued_age is None else f"{stats.oldest_queued_age:.0f}s"
    print(f"queued     {stats.queued}\nin flight  {stats.in_flight}\nfailed     {stats.failed}\n"
          f"sent       {stats.sent}\noldest     {age}")
    return 0


def run_worker_command(args: argparse.Namespace) -> int:
    location = args.store or open_store_location()
    store = open_store(location)
    outbox = outbox_for(store)
    config = RelayConfig.from_env()
    deadline = timedelta(hours=args.deadline)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")
    if args.once:
        from ..smtp.sync import Mailer

        mailer = Mailer(dataclasses.replace(config, max_tries=1), store=store)
        report = drain(outbox, mailer, batch=args.batch, lease=args.lease, deadline=deadline)
    else:
        report = run_worker(outbox, config, poll=args.poll, store=store, batch=args.batch, lease=args.lease,
                            deadline=deadline)
    print(f"sent {report.sent}, retried {report.retried}, failed {report.failed}, "
          f"ambiguous {report.ambiguous}")
    store.close()
    return 0
