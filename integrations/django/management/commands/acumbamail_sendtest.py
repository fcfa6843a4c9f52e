"""``manage.py acumbamail_sendtest --to ADDRESS [--category NAME]``: send one short test message
through the Acumbamail backend (whatever EMAIL_BACKEND says) and print what the relay answered."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from acumbamail_smtp.errors import AcumbamailError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.core.management import BaseCommand, CommandError

from ...backend import EmailBackend
from ._relay import backend_arguments


class Command(BaseCommand):
    help = "Send a test message through Acumbamail's SMTP relay."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--to", required=True, help="the recipient's address")
        parser.add_argument("--category", help="the message's category (default: DEFAULT_CATEGORY)")
        parser.add_argument("--from", dest="from_email", help="the sender (default: DEFAULT_FROM_EMAIL)")
        parser.add_argument("--mailer", help="the Django 6.1 MAILERS alias to use")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            backend = EmailBackend(**backend_arguments(options.get("mailer")))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        message = EmailMessage(
            subject="Acumbamail test message",
            body=("This is a test message sent with acumbamail-smtp's acumbamail_sendtest command.\n"
                  "If you can read it, the relay accepted it and delivered it.\n"),
            from_email=options.get("from_email") or settings.DEFAULT_FROM_EMAIL,
            to=[options["to"]],
        )
        message.category = options.get("category")  # type: ignore[attr-defined]
        try:
            backend.send_messages([message])
        except AcumbamailError as exc:
            raise CommandError(f"not sent: {exc}") from None
        result = message.acumbamail_status  # type: ignore[attr-defined]
        self.stdout.write(f"status: {result.status}")
        self.stdout.write(f"message id: {result.message_id}")
        self.stdout.write(f"queue id: {result.queue_id or '-'}")
        self.stdout.write(f"category: {result.category or '-'}")
        for address, reply in result.refused.items():
            self.stdout.write(f"refused: {address}: {reply}")
        for address in result.suppressed:
            self.stdout.write(f"suppressed: {address}")
