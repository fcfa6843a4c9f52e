"""The Django app: models and migrations of the event store, the admin, the system checks."""

from __future__ import annotations

from django.apps import AppConfig


class AcumbamailConfig(AppConfig):
    """``acumbamail_smtp.integrations.django`` in INSTALLED_APPS (label ``acumbamail``)."""

    name = "acumbamail_smtp.integrations.django"
    label = "acumbamail"
    verbose_name = "Acumbamail"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401 (registers the system checks)
