"""System checks (``manage.py check``): credentials, insecure settings, webhook verification and
template folders, reported before the first mail fails.

* ``acumbamail.E001``: the backend is used without credentials (EMAIL_HOST_USER/PASSWORD).
* ``acumbamail.E002``: a setting is invalid (the message names it).
* ``acumbamail.E003``: the webhook endpoint is mounted with no verification configured.
* ``acumbamail.E004``: a folder of ``ACUMBAMAIL["TEMPLATES"]`` does not exist.
* ``acumbamail.W001``: credentials would travel in clear text (security "none").
* ``acumbamail.W002``: webhook verification is disabled (``WEBHOOK_INSECURE``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import django
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.core.exceptions import ImproperlyConfigured
from django.urls import NoReverseMatch, reverse

from . import conf


def _backends() -> Iterator[tuple[str, dict[str, Any], str | None]]:
    """Where our backend is configured: ``(setting name, arguments, MAILERS alias)``."""
    if conf.overridden("EMAIL_BACKEND") and settings.EMAIL_BACKEND == conf.BACKEND_PATH:
        yield "EMAIL_BACKEND", {}, None
    mailers = getattr(settings, "MAILERS", None) if django.VERSION >= (6, 1) else None
    if isinstance(mailers, dict):
        for alias, entry in mailers.items():
            if isinstance(entry, dict) and entry.get("BACKEND") == conf.BACKEND_PATH:
                options = entry.get("OPTIONS") or {}
                yield f'MAILERS["{alias}"]', dict(options) if isinstance(options, dict) else {}, alias


def _relay_checks() -> Iterator[CheckMessage]:
    for name, arguments, alias in _backends():
        try:
            config = conf.relay_config(arguments, alias)
        except ImproperlyConfigured as exc:
            yield Error(str(exc), id="acumbamail.E002", obj=name)
            continue
        if not config.username:
            yield Error(
                f"{name}: Acumbamail's relay needs credentials.",
                hint="Set EMAIL_HOST_USER to the account's e-mail address and EMAIL_HOST_PASSWORD to its "
                     "password or API auth token (or username/password in the mailer's OPTIONS).",
                id="acumbamail.E001", obj=name)
        elif config.security == "none":
            yield Warning(
                f"{name}: the credentials are sent in clear text (no TLS).",
                hint="Use STARTTLS (port 587, 25 or 25252) or implicit TLS (465, 2525); "
                     'ACUMBAMAIL["ALLOW_INSECURE"] is for a trusted local relay only.',
                id="acumbamail.W001", obj=name)


def _webhook_checks() -> Iterator[CheckMessage]:
    try:
        reverse("acumbamail:webhook")
    except NoReverseMatch:
        return  # the endpoint is not mounted
    try:
        values = conf.webhook_settings()
    except ImproperlyConfigured as exc:
        yield Error(str(exc), id="acumbamail.E002")
        return
    methods = [values["token"], values["basic_auth"], values["signing_secrets"]]
    if not any(m not in (None, "", [], ()) for m in methods):
        if values["insecure"]:
            yield Warning("The Acumbamail webhook endpoint accepts unauthenticated posts "
                          '(ACUMBAMAIL["WEBHOOK_INSECURE"] is true).',
                          hint='Set ACUMBAMAIL["WEBHOOK_TOKEN"] and give Acumbamail the callback URL '
                               "https://<your host>/<prefix>/webhook/<token>/.",
                          id="acumbamail.W002")
        else:
            yield Error("The Acumbamail webhook endpoint is mounted but has no verification.",
                        hint='Set ACUMBAMAIL["WEBHOOK_TOKEN"] (a long random string, also put in the '
                             "callback URL), WEBHOOK_BASIC_AUTH or WEBHOOK_SIGNING_SECRETS.",
                        id="acumbamail.E003")
        return
    from .webhooks import webhook_receiver

    try:
        webhook_receiver()  # builds the verifier: bad tokens, credentials or secrets show here
    except ImproperlyConfigured as exc:
        yield Error(str(exc), id="acumbamail.E002")


def _template_checks() -> Iterator[CheckMessage]:
    try:
        folders = conf.template_folders()
    except ImproperlyConfigured as exc:
        yield Error(str(exc), id="acumbamail.E002")
        return
    for folder in folders:
        if not os.path.isdir(folder):
            yield Error(f'ACUMBAMAIL["TEMPLATES"]: {folder!r} is not a folder.',
                        hint="Create it or fix the path (relative paths are taken from the current "
                             "directory; build them from BASE_DIR).", id="acumbamail.E004")


def _settings_checks() -> Iterator[CheckMessage]:
    try:
        for key in conf.KEYS:
            conf.option(key)
        store = conf.event_store()
        conf.suppression(store=store)
    except ImproperlyConfigured as exc:
        yield Error(str(exc), id="acumbamail.E002")


@register()
def acumbamail_checks(app_configs: Sequence[Any] | None = None, **kwargs: Any) -> list[CheckMessage]:
    """Every check of this app, in one registered function."""
    found = [*_settings_checks(), *_relay_checks(), *_template_checks(), *_webhook_checks()]
    unique: dict[tuple[str, str], CheckMessage] = {}
    for message in found:
        unique.setdefault((str(message.id), message.msg), message)
    return list(unique.values())
