"""System checks: ``manage.py check`` reports what would make sending or receiving fail."""

from __future__ import annotations

import django
import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

BACKEND = "acumbamail_smtp.integrations.django.EmailBackend"
pytestmark = pytest.mark.django_db  # Django 6.1's model checks ask the database what it supports

CREDENTIALS = {"EMAIL_HOST_USER": "shop@example.com", "EMAIL_HOST_PASSWORD": "made-up-token-9"}


def ours(settings) -> dict[str, str]:
    return {m.id: m.msg for m in run_checks() if str(m.id).startswith("acumbamail.")}


def configure(settings, **values) -> None:
    settings.EMAIL_BACKEND = BACKEND
    for name, value in values.items():
        setattr(settings, name, value)


def test_a_good_configuration_has_no_messages(settings) -> None:
    configure(settings, **CREDENTIALS)
    assert ours(settings) == {}


def test_missing_credentials(settings) -> None:
    configure(settings)
    found = ours(settings)
    assert set(found) == {"acumbamail.E001"}
    assert "EMAIL_BACKEND" in found["acumbamail.E001"]
    with pytest.raises(SystemCheckError, match="acumbamail.E001"):
        call_command("check")


def test_other_backends_are_not_checked(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    assert ours(settings) == {}


def test_insecure_relay_connection(settings) -> None:
    configure(settings, EMAIL_USE_TLS=False, ACUMBAMAIL={**settings.ACUMBAMAIL, "ALLOW_INSECURE": True},
              **CREDENTIALS)
    assert set(ours(settings)) == {"acumbamail.W001"}


def test_invalid_settings_are_named(settings) -> None:
    configure(settings, EMAIL_PORT="x", **CREDENTIALS)
    assert "EMAIL_PORT" in ours(settings)["acumbamail.E002"]
    configure(settings, EMAIL_PORT=587, ACUMBAMAIL={**settings.ACUMBAMAIL, "DEFAULT_CATEGORY": ""})
    assert 'ACUMBAMAIL["DEFAULT_CATEGORY"]' in ours(settings)["acumbamail.E002"]


def test_webhook_without_verification(settings) -> None:
    configure(settings, ACUMBAMAIL={}, **CREDENTIALS)
    assert set(ours(settings)) == {"acumbamail.E003"}
    settings.ACUMBAMAIL = {"WEBHOOK_INSECURE": True}
    assert set(ours(settings)) == {"acumbamail.W002"}
    settings.ACUMBAMAIL = {"WEBHOOK_SIGNING_SECRETS": "whsec_tooshort"}
    assert "WEBHOOK_SIGNING_SECRETS" in ours(settings)["acumbamail.E002"]


def test_webhook_checks_only_when_the_endpoint_is_mounted(settings) -> None:
    configure(settings, ACUMBAMAIL={}, ROOT_URLCONF="tests.django.urls_without_webhook", **CREDENTIALS)
    assert ours(settings) == {}


def test_unreachable_template_folder(settings, tmp_path) -> None:
    missing = tmp_path / "nope"
    configure(settings, ACUMBAMAIL={**settings.ACUMBAMAIL, "TEMPLATES": [str(tmp_path), str(missing)]},
              **CREDENTIALS)
    found = ours(settings)
    assert set(found) == {"acumbamail.E004"}
    assert str(missing) in found["acumbamail.E004"]


def test_mailers_entries_are_checked_where_django_has_mailers(settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": {"host": "smtp.acumbamail.com"}}}
    found = ours(settings)
    if django.VERSION >= (6, 1):
        assert 'MAILERS["default"]' in found["acumbamail.E001"]
    else:  # no MAILERS before 6.1: the setting means nothing to Django, nor to the checks
        assert found == {}
