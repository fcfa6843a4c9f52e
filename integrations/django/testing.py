"""Helpers for a project's own tests: :class:`TestEmailBackend`, Django's locmem backend through
our whole sending path (nothing connects), or :func:`relay_settings` to point the backend at the
fake relay (:class:`acumbamail_smtp.testserver.FakeRelay`) over real SMTP.

    EMAIL_BACKEND = "acumbamail_smtp.integrations.django.testing.TestEmailBackend"

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

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acumbamail_smtp.smtp.policy import RecordingConnection
from django.conf import settings
from django.core import mail
from django.core.mail import EmailMessage

from .backend import EmailBackend
from .conf import BACKEND_PATH

if TYPE_CHECKING:
    from acumbamail_smtp.testserver import FakeRelay


#: The dotted path of :class:`TestEmailBackend`, for ``EMAIL_BACKEND``.
TEST_BACKEND_PATH = "acumbamail_smtp.integrations.django.testing.TestEmailBackend"


class TestEmailBackend(EmailBackend):
    """Our :class:`~acumbamail_smtp.integrations.django.EmailBackend` with the SMTP exchange
    replaced by a :class:`~acumbamail_smtp.smtp.RecordingConnection`: messages are prepared
    (an invalid one raises), categorised, checked against the suppression list, given their
    ``acumbamail_status`` and signalled as for real (but not recorded in the store: nothing was
    sent), then appended to
    ``django.core.mail.outbox`` like Django's locmem backend does, when a recipient accepted them.
    Nothing connects. ``recorder.prepared`` holds the envelopes and bytes."""

    __test__ = False  # not a pytest test class

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.recorder = RecordingConnection()
        super().__init__(*args, connection=self.recorder, record_sends=False, **kwargs)
        if not hasattr(mail, "outbox"):
            mail.outbox = []

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Send as the real backend does, and put each message a recipient accepted in the outbox."""
        try:
            return super().send_messages(email_messages)
        finally:
            outbox: list[EmailMessage] = mail.outbox
            outbox.extend(m for m in email_messages
                          if getattr(getattr(m, "acumbamail_status", None), "ok", False))


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
