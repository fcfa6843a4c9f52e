"""``acumbamail-smtp testserver`` runs the fake relay in the foreground for local development;
``acumbamail-smtp demo`` shows the library end to end against it. Found through the
``acumbamail_smtp.commands`` entry point, so the core's command line never names the test server."""

from __future__ import annotations

import argparse
import shlex
import signal
import threading
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .relay import FakeRelay


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "testserver",
        help="run a fake Acumbamail relay on 127.0.0.1 (SMTP, webhooks, web UI)",
        description=(
            "Run a fake Acumbamail relay on 127.0.0.1: SMTP with STARTTLS and implicit TLS, "
            "a web page listing the messages it receives, and optional webhook events. "
            "Stops on Ctrl-C or SIGTERM."
        ),
    )
    parser.add_argument("--username", default="user@example.com", help="AUTH user (default: %(default)s)")
    parser.add_argument("--password", default="test-password", help="AUTH password (default: %(default)s)")
    parser.add_argument("--webhook-url", help="POST Acumbamail-shaped events to this URL")
    parser.add_argument(
        "--webhook-signing-secret",
        help="sign webhook POSTs with this Standard Webhooks secret (whsec_<base64>)",
    )
    parser.add_argument("--smtp-port", type=_port, default=0, help="plain/STARTTLS port (default: any free)")
    parser.add_argument("--tls-port", type=_port, default=0, help="implicit TLS port (default: any free)")
    parser.add_argument("--http-port", type=_port, default=0, help="web UI and API port (default: any free)")
    parser.add_argument(
        "--chunking", action="store_true", help="also offer CHUNKING (RFC 3030 BDAT) after EHLO"
    )
    parser.set_defaults(func=run)

    demo = subparsers.add_parser(
        "demo", help="start a local fake relay, send through it, and show what it received")
    demo.set_defaults(func=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from .demo import run as run_demo_loop

    return run_demo_loop()


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be from 0 to 65535, got {port}")
    return port


def run(args: argparse.Namespace) -> int:
    from .relay import FakeRelay

    try:
        relay = FakeRelay(
            username=args.username,
            password=args.password,
            webhook_url=args.webhook_url,
            webhook_signing_secret=args.webhook_signing_secret,
            port=args.smtp_port,
            tls_port=args.tls_port,
            http_port=args.http_port,
            chunking=args.chunking,
        )
    except ValueError as exc:
        print(f"error: {exc}", flush=True)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            relay.start()
        except OSError as exc:
            print(f"error: cannot listen on 127.0.0.1: {exc}", flush=True)
            return 1
        try:
            print(describe(relay), flush=True)
            while not stop.wait(0.5):
                pass
        finally:
            relay.stop()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("fake relay stopped", flush=True)
    return 0


def describe(relay: FakeRelay) -> str:
    """What a developer needs to point an app at ``relay``, ending with an ``export`` block."""
    webhook = "(none; use --webhook-url)" if relay._emitter is None else "posting events (URL as given)"
    env = {
        "ACUMBAMAIL_HOST": relay.host,
        "ACUMBAMAIL_PORT": str(relay.port),
        "ACUMBAMAIL_SECURITY": "starttls",
        "ACUMBAMAIL_USERNAME": relay.username,
        "ACUMBAMAIL_PASSWORD": relay.password,
        "ACUMBAMAIL_CA_FILE": relay.ca_file,
    }
    lines = [
        "Fake Acumbamail relay running (acumbamail-smtp testserver)",
        f"  host:       {relay.host}",
        f"  smtp port:  {relay.port} (STARTTLS)",
        f"  tls port:   {relay.tls_port} (implicit TLS)",
        f"  chunking:   {'on (BDAT)' if relay.chunking else 'off (use --chunking)'}",
        f"  username:   {relay.username}",
        f"  password:   {relay.password}",
        f"  CA file:    {relay.ca_file}",
        f"  web UI:     {relay.http_url}/",
        f"  webhooks:   {webhook}",
        "",
        "Environment for your app:",
        *(f"export {name}={shlex.quote(value)}" for name, value in env.items()),
        "",
        "Press Ctrl-C to stop.",
    ]
    return "\n".join(lines)
