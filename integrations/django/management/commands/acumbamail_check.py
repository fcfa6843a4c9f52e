"""``manage.py acumbamail_check``: connect to the relay with the project's settings, secure the
connection and authenticate, then say what works; nothing is sent. Exits 1 on failure."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from acumbamail_smtp.smtp.diagnostics import check_relay
from django.core.exceptions import ImproperlyConfigured
from django.core.management import BaseCommand, CommandError

from ... import conf
from ._relay import backend_arguments


class Command(BaseCommand):
    help = "Check the connection to Acumbamail's SMTP relay (TLS and credentials); nothing is sent."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--mailer", help="the Django 6.1 MAILERS alias to check "
                                             "(default: the default mailer)")

    def handle(self, *args: Any, **options: Any) -> None:
        arguments = backend_arguments(options.get("mailer"))
        alias = arguments.pop("alias", None)
        try:
            config = conf.relay_config(arguments, alias)
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from None
        report = check_relay(config)
        self.stdout.write(report.render())
        if not report.ok:
            raise CommandError("the relay check failed (see above)")
