"""``flask acumbamail check``, ``flask acumbamail send-test ADDRESS`` and ``flask acumbamail worker``."""

from __future__ import annotations

from typing import Protocol

import click
from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import AcumbamailError, InvalidMessage, MissingSender
from acumbamail_smtp.message.model import Message as CoreMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.diagnostics import check_relay
from acumbamail_smtp.store.sqlite import EventStore
from flask import Flask, current_app
from flask.cli import AppGroup

from .outbox import drain_app, work
from .settings import SendSettings

acumbamail_cli = AppGroup("acumbamail", help="Acumbamail's SMTP relay: check the settings, send a test.")


class _State(Protocol):
    """What the worker uses of the app's extension state."""

    def settings(self, app: Flask) -> SendSettings: ...

    def store(self, app: Flask) -> EventStore | None: ...


class _Sender(Protocol):
    """What the commands use of the app's ``Acumbamail`` extension."""

    @property
    def sending_suppressed(self) -> bool: ...

    def relay_config(self) -> RelayConfig: ...

    def send(self, message: CoreMessage) -> SendResult: ...


def _extension() -> _Sender:
    """The app's extension, from the state ``init_app`` (which registers these commands) left in
    ``app.extensions``; not imported, since the extension imports this module."""
    extension: _Sender = current_app.extensions["acumbamail"].extension
    return extension


@acumbamail_cli.command("check")
def check_command() -> None:
    """Connect to the relay with the app's settings (TLS, login) and report; nothing is sent."""
    extension = _extension()
    try:
        report = check_relay(extension.relay_config())
    except AcumbamailError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.render())
    if not report.ok:
        raise click.exceptions.Exit(1)


@acumbamail_cli.command("send-test")
@click.argument("address")
@click.option("--from", "sender", help="Sender address (default: ACUMBAMAIL_DEFAULT_SENDER).")
@click.option("--category", help="Category header (default: ACUMBAMAIL_DEFAULT_CATEGORY).")
@click.option("--subject", default="acumbamail-smtp test message", show_default=True)
def send_test_command(address: str, sender: str | None, category: str | None, subject: str) -> None:
    """Send a short test message to ADDRESS with the app's settings and print the outcome."""
    extension = _extension()
    message = CoreMessage(from_email=sender, to=address, subject=subject, category=category,
                          text="This is a test message sent by `flask acumbamail send-test`.\n")
    try:
        suppressed = extension.sending_suppressed
        result = extension.send(message)
    except InvalidMessage as exc:
        hint = " (or pass --from)" if isinstance(exc, MissingSender) else ""
        raise click.ClickException(f"{exc}{hint}") from None
    except AcumbamailError as exc:
        raise click.ClickException(str(exc)) from None
    if suppressed:
        click.echo("Not sent: sending is suppressed (ACUMBAMAIL_SUPPRESS_SEND, MAIL_SUPPRESS_SEND or "
                   "TESTING); the message was validated only.")
        return
    click.echo(f"{result.status}: {', '.join(result.accepted) or 'no recipient accepted'}")
    click.echo(f"message id: {result.message_id}")
    click.echo(f"queue id: {result.queue_id or 'not given by the relay'}")
    for refused, reply in result.refused.items():
        click.echo(f"refused {refused}: {reply}")


@acumbamail_cli.command("worker")
@click.option("--once", is_flag=True, help="Drain what is due, print the counts and stop.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between drains.")
def worker_command(once: bool, poll: float) -> None:
    """Send the messages queued by ACUMBAMAIL_OUTBOX; the app's signals fire as each is sent.
    Runs until SIGTERM or Ctrl-C; several workers may share one outbox."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state: _State = app.extensions["acumbamail"]
    settings, store = state.settings(app), state.store(app)
    try:
        if once:
            report = drain_app(app, settings, store)
            click.echo(f"sent {report.sent}, retried {report.retried}, failed {report.failed}, "
                       f"ambiguous {report.ambiguous}")
            return
        click.echo(f"acumbamail worker: draining the outbox every {poll:g}s (Ctrl-C stops)")
        work(app, settings, store, poll=poll)
    except AcumbamailError as exc:
        raise click.ClickException(str(exc)) from None
