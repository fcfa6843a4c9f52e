"""Helpers for a project's own tests: point the backend at the fake relay
(:class:`acumbamail_smtp.testserver.FakeRelay`) instead of Django's locmem backend.

    from acumbamail_smtp.integrations.django.testing import relay_settings

    def test_signup_mail(acumbamail_relay, settings):          # pytest-django + our pytest plugin
        for name, value in relay_settings(acumbamail_relay).items():
            setattr(settings, name, value)
        ...
        [message] = acumbamail_relay.wait_for(1)
        assert message.category == "SIGNUP"

or ``with override_settings(**relay_settings(relay)):`` in a ``TestCase``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from .conf import BACKEND_PATH

if TYPE_CHECKING:
    from acumbamail_smtp.testserver import FakeRelay


def relay_settings(relay: FakeRelay, *, tls: bool = False, **acumbamail: Any) -> dict[str, Any]:
    """Django settings that send through ``relay`` like a project configured for Acumbamail
    (``EMAIL_HOST``/``PORT``/``HOST_USER``/``HOST_PASSWORD``, STARTTLS from the port table, or
    implicit TLS with ``tls=True``), trusting its certificate. ``acumbamail`` entries are added
    to the project's ``ACUMBAMAIL`` dict (e.g. ``DEFAULT_CATEGORY="TEST"``)."""
    values: dict[str, Any] = {
        "EMAIL_BACKEND": BACKEND_PATH,
        "EMAIL_HOST": relay.host,
        "EMAIL_PORT": relay.tls_port if tls else relay.port,
        "EMAIL_HOST_USER": relay.username,
        "EMAIL_HOST_PASSWORD": relay.password,
        "ACUMBAMAIL": {**getattr(settings, "ACUMBAMAIL", {}), "CA_FILE": relay.ca_file, **acumbamail},
    }
    if tls:
        values["EMAIL_USE_SSL"] = True
    return values
