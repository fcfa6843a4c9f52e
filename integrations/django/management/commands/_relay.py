"""What the management commands share: which configuration of the backend to use."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import CommandError

from ... import conf
from ...backend import HAS_MAILERS


def backend_arguments(mailer: str | None) -> dict[str, Any]:
    """Keyword arguments for ``EmailBackend``: a Django 6.1 mailer's OPTIONS (``--mailer``, or the
    default mailer when it is ours), else nothing (the ``EMAIL_*`` settings)."""
    mailers = getattr(settings, "MAILERS", None) if HAS_MAILERS else None
    if mailer is None:
        default = (mailers or {}).get("default")
        if isinstance(default, dict) and default.get("BACKEND") == conf.BACKEND_PATH:
            mailer = "default"
        else:
            return {}
    if not HAS_MAILERS:
        raise CommandError("--mailer needs Django 6.1 or later (the MAILERS setting)")
    entry = (mailers or {}).get(mailer)
    if not isinstance(entry, dict):
        raise CommandError(f"MAILERS has no entry {mailer!r}")
    if entry.get("BACKEND") != conf.BACKEND_PATH:
        raise CommandError(f'MAILERS["{mailer}"] does not use {conf.BACKEND_PATH}')
    return {**(entry.get("OPTIONS") or {}), "alias": mailer}
