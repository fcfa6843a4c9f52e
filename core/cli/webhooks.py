"""Sub-commands for the suppression list and the account's webhook:
``suppression list|add|remove|export`` and ``webhook configure|show|serve``."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any
from urllib.parse import urlsplit

from ..errors import ConfigError
from ..store.open import open_store
from ..store.sqlite import DEFAULT_STORE_PATH, STORE_ENV, EventStore
from ..store.suppression import SUPPRESSION_REASONS

CSV_COLUMNS = ("address", "reason", "created_at", "event_id")


def register(subparsers: Any) -> None:
    store_options = argparse.ArgumentParser(add_help=False)
    store_options.add_argument(
        "--store", metavar="PATH",
        help=f"SQLite event store (default: ${STORE_ENV}, else {DEFAULT_STORE_PATH})")
    store_options.add_argument(
        "--db-url", metavar="URL",
        help="a SQLAlchemy database URL instead, e.g. postgresql+psycopg://user@host/db")

    suppression = subparsers.add_parser(
        "suppression", help="list, add, remove or export suppressed addresses",
        description="Suppressed addresses are skipped by the mailer. Hard bounces and complaints "
                    "add them automatically; these commands manage the list by hand.")
    suppression.set_defaults(func=_help(suppression))
    actions = suppression.add_subparsers(dest="action", metavar="ACTION")

    listing = actions.add_parser("list", parents=[store_options], help="show the suppressed addresses")
    listing.add_argument("--reason", choices=SUPPRESSION_REASONS, help="only this reason")
    listing.set_defaults(func=run_list)

    add = actions.add_parser("add", parents=[store_options], help="suppress addresses")
    add.add_argument("addresses", nargs="+", metavar="ADDRESS")
    add.add_argument("--reason", choices=SUPPRESSION_REASONS, default="manual")
    add.set_defaults(func=run_add)

    remove = actions.add_parser("remove", parents=[store_options],
                                help="take addresses off the list (they will be mailed again)")
    remove.add_argument("addresses", nargs="+", metavar="ADDRESS")
    remove.set_defaults(func=run_remove)

    export = actions.add_parser("export", parents=[store_options], help="write the list as CSV")
    export.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    export.set_defaults(func=run_export)

    api_options = argparse.ArgumentParser(add_help=False)
    api_options.add_argument(
        "--auth-token", metavar="TOKEN",
        help="Acumbamail API auth token (default: $ACUMBAMAIL_AUTH_TOKEN; prefer the variable, "
             "command lines are visible to other users)")
    api_options.add_argument("--api-base", metavar="URL",
                             help="API base URL (default: $ACUMBAMAIL_API_BASE or Acumbamail's)")
    api_options.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")

    webhook = subparsers.add_parser("webhook", help="configure, show or serve the account's SMTP webhook")
    webhook.set_defaults(func=_help(webhook))
    webhook_actions = webhook.add_subparsers(dest="action", metavar="ACTION")
    configure = webhook_actions.add_parser(
        "configure", parents=[api_options], help="point the SMTP webhook at your receiver",
        description="Acumbamail allows one SMTP webhook per account; this replaces it. Put a long "
                    "random token in the URL (see WebhookVerifier).")
    configure.add_argument("--url", required=True, help="the callback URL, with its secret token")
    configure.add_argument("--events", default=None,
                           help="comma-separated: delivered,hard_bounce,soft_bounce,complaint,opened,"
                                "clicked (default: all)")
    configure.add_argument("--inactive", action="store_true", help="save it switched off")
    configure.set_defaults(func=run_configure)
    show = webhook_actions.add_parser("show", parents=[api_options], help="show the SMTP webhook")
    show.add_argument("--reveal", action="store_true",
                      help="print the full callback URL (it holds the secret token)")
    show.set_defaults(func=run_show)
    serve = webhook_actions.add_parser(
        "serve", parents=[store_options], help="receive webhooks without a web framework",
        description="A standalone endpoint: POST <prefix>/<token>. Verification comes from the "
                    "environment only: ACUMBAMAIL_WEBHOOK_TOKEN, ACUMBAMAIL_WEBHOOK_BASIC_AUTH "
                    "(user:pass,...), ACUMBAMAIL_WEBHOOK_SIGNING_SECRETS. Put it behind a TLS proxy.")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8025, help="port (default 8025)")
    serve.add_argument("--prefix", default="/webhooks", help="URL path (default /webhooks)")
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    from ..webhooks.server import WebhookServer
    from ..webhooks.settings import receiver_from_settings

    settings = {name: os.environ.get(f"ACUMBAMAIL_WEBHOOK_{name.upper()}")
                for name in ("token", "basic_auth", "signing_secrets", "insecure")}
    with _store(args, must_exist=False) as store:
        receiver = receiver_from_settings(store, settings)
        server = WebhookServer(receiver, host=args.host, port=args.port, prefix=args.prefix)
        print(f"Receiving Acumbamail webhooks at {server.url()}/<token>; Ctrl-C stops.", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            server.server.server_close()
    return 0


def _help(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


@contextmanager
def _store(args: argparse.Namespace, *, must_exist: bool) -> Iterator[EventStore]:
    if args.db_url and args.store:
        raise ConfigError("--db-url", "give either --store or --db-url, not both")
    if args.db_url:
        from ..store.sqlalchemy import SQLAlchemyEventStore

        store: EventStore = SQLAlchemyEventStore(args.db_url)
    else:
        location = args.store or os.environ.get(STORE_ENV) or DEFAULT_STORE_PATH
        if must_exist and "://" not in location and not os.path.exists(location):
            raise ConfigError("--store", f"no event store at {location!r} (nothing suppressed yet?)")
        store = open_store(location)
    try:
        yield store
    finally:
        store.close()


def run_list(args: argparse.Namespace) -> int:
    with _store(args, must_exist=True) as store:
        rows = [s for s in store.suppressions() if args.reason in (None, s.reason)]
    for item in rows:
        created = item.created_at.isoformat(timespec="seconds")
        print(f"{item.address}\t{item.reason}\t{created}\t{item.event_id or '-'}")
    print(f"{len(rows)} suppressed address(es)", file=sys.stderr)
    return 0


def run_add(args: argparse.Namespace) -> int:
    with _store(args, must_exist=False) as store:
        for address in args.addresses:
            added = store.suppress(address, args.reason)
            print(f"{'suppressed' if added else 'already suppressed'}: {address}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    missing = 0
    with _store(args, must_exist=True) as store:
        for address in args.addresses:
            if store.unsuppress(address):
                print(f"removed: {address}")
            else:
                missing += 1
                print(f"not suppressed: {address}", file=sys.stderr)
    return 1 if missing else 0


def run_export(args: argparse.Namespace) -> int:
    with _store(args, must_exist=True) as store:
        if args.out:
            with open(args.out, "w", newline="", encoding="utf-8") as handle:
                count = _write_csv(store, handle)
            print(f"wrote {count} suppressed address(es) to {args.out}", file=sys.stderr)
        else:
            _write_csv(store, sys.stdout)
    return 0


def _write_csv(store: EventStore, handle: IO[str]) -> int:
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for item in store.suppressions():
        writer.writerow((item.address, item.reason, item.created_at.isoformat(), item.event_id or ""))
        count += 1
    return count


def _api(args: argparse.Namespace) -> Any:
    from ..webhooks.api import AcumbamailAPI

    return AcumbamailAPI(args.auth_token, base_url=args.api_base, timeout=args.timeout)


def redact_url(url: str) -> str:
    """``url`` without its path and query, which usually hold the webhook's secret token."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/..." if parts.hostname else "(not a URL)"


def run_configure(args: argparse.Namespace) -> int:
    from ..webhooks.api import webhook_events

    events = webhook_events(args.events)
    if urlsplit(args.url).scheme == "http":
        print("warning: the callback URL is plain http: its token travels unencrypted",
              file=sys.stderr)
    webhook_id = _api(args).configure_smtp_webhook(args.url, events, active=not args.inactive)
    state = "inactive" if args.inactive else "active"
    print(f"webhook {webhook_id} ({state}) posts {', '.join(e.value for e in events)} "
          f"to {redact_url(args.url)}")
    return 0


def run_show(args: argparse.Namespace) -> int:
    info = _api(args).get_smtp_webhook()
    url = info.get("url")
    shown = url if args.reveal or not isinstance(url, str) else redact_url(url)
    print(f"id:     {info.get('id')}")
    print(f"url:    {shown or '(none)'}")
    print(f"active: {'yes' if info.get('active') else 'no'}")
    print(f"events: {', '.join(info.get('events') or []) or '(none)'}")
    return 0
