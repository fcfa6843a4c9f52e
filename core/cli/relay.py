"""Sub-commands about the relay itself: ``check`` and ``send``."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from ..config import RelayConfig
from ..errors import InvalidMessage


def register(subparsers: Any) -> None:
    check = subparsers.add_parser(
        "check", help="connect, secure and authenticate with the relay, then quit (nothing is sent)",
        description="Reads ACUMBAMAIL_* variables; flags override them. The secret is read from "
                    "ACUMBAMAIL_PASSWORD or ACUMBAMAIL_AUTH_TOKEN only, never from a flag.",
    )
    _connection_flags(check)
    check.set_defaults(func=run_check)

    send = subparsers.add_parser("send", help="send one message through the relay")
    _connection_flags(send)
    send.add_argument("--from", dest="from_email", help="sender (default: ACUMBAMAIL_DEFAULT_FROM)")
    send.add_argument("--to", action="append", required=True, help="recipient; repeat for more")
    send.add_argument("--subject", required=True)
    send.add_argument("--text", type=Path, help="file holding the plain-text body")
    send.add_argument("--html", type=Path, help="file holding the HTML body")
    send.add_argument("--category", help="the Acumbamail category (ACUMBAMAIL-SMTPAPI header)")
    send.add_argument("--attach", action="append", type=Path, default=[], help="file to attach")
    send.set_defaults(func=run_send)


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="relay host (default smtp.acumbamail.com)")
    parser.add_argument("--port", type=int, help="relay port (default 587)")
    parser.add_argument("--username", help="the account's e-mail address")
    parser.add_argument("--security", choices=("starttls", "tls", "none"))
    parser.add_argument("--ca-file", help="trust this CA file (private relays, the fake relay)")
    parser.add_argument("--timeout", type=float)


def config_from_args(args: argparse.Namespace) -> RelayConfig:
    """``RelayConfig.from_env()`` with the command's flags applied on top."""
    overrides = {
        key: value
        for key, value in {
            "host": args.host, "port": args.port, "username": args.username,
            "security": args.security, "ca_file": args.ca_file, "timeout": args.timeout,
        }.items()
        if value is not None
    }
    if "port" in overrides and "security" not in overrides and not os.environ.get("ACUMBAMAIL_SECURITY"):
        overrides["security"] = None
    return RelayConfig.from_env(**overrides)


def run_check(args: argparse.Namespace) -> int:
    from ..smtp.diagnostics import check_relay

    report = check_relay(config_from_args(args))
    print(report.render())
    return 0 if report.ok else 1


def run_send(args: argparse.Namespace) -> int:
    from ..message.model import Message
    from ..smtp.sync import Mailer

    message = Message(
        from_email=args.from_email,
        to=args.to,
        subject=args.subject,
        text=_read_body(args.text, "--text"),
        html=_read_body(args.html, "--html"),
        category=args.category,
    )
    for path in args.attach:
        message.attach_file(path)
    result = Mailer(config_from_args(args)).send(message)
    print(f"{result.status}: {result.message_id}, relay replied {result.reply}")
    for address, reply in result.refused.items():
        print(f"  refused {address}: {reply}")
    return 0


def _read_body(path: Path | None, flag: str) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidMessage(f"{flag}: cannot read {str(path)!r} as UTF-8 text: {exc}") from None
