"""Django 6.1's MAILERS setting. Which behaviour is asserted depends on the installed Django:
6.1 builds backends from MAILERS with an ``alias``; 5.2 and 6.0 have no MAILERS, and the backend
refuses ``alias`` like any unknown argument."""

from __future__ import annotations

import warnings

import django
import pytest
from acumbamail_smtp import AuthenticationError
from acumbamail_smtp.integrations.django import EmailBackend
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage

BACKEND = "acumbamail_smtp.integrations.django.EmailBackend"
HAS_MAILERS = django.VERSION >= (6, 1)

pytestmark = pytest.mark.django_db


def options(relay, **extra):
    return {"host": relay.host, "port": relay.port, "username": relay.username,
            "password": relay.password, "ca_file": relay.ca_file, **extra}


if HAS_MAILERS:
    from django.core.mail import mailers

    def test_the_default_mailer_sends_with_its_options_only(settings, relay) -> None:
        settings.EMAIL_HOST_PASSWORD = "wrong-and-ignored"  # MAILERS entries never read EMAIL_*
        settings.MAILERS = {"default": {"BACKEND": BACKEND,
                                        "OPTIONS": options(relay, default_category="MAILERS")}}
        backend = mailers["default"]
        assert isinstance(backend, EmailBackend)
        assert backend.alias == "default"
        assert backend.config.security == "starttls"
        assert mail.send_mail("Via MAILERS", "body", None, ["ana@example.com"]) == 1
        [received] = relay.wait_for(1)
        assert (received.category, received.tls, received.authenticated_as) == ("MAILERS", True, relay.username)

    def test_send_using_another_alias(settings, relay) -> None:
        settings.MAILERS = {
            "default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"},
            "transactional": {"BACKEND": BACKEND, "OPTIONS": options(relay, port=relay.tls_port, use_ssl=True)},
        }
        message = EmailMessage("Receipt", "body", None, ["ana@example.com"])
        message.category = "RECEIPT"
        assert message.send(using="transactional") == 1
        [received] = relay.wait_for(1)
        assert received.category == "RECEIPT"
        assert message.acumbamail_status.status == "sent"

    def test_unknown_and_bad_options_name_the_mailer(settings, relay) -> None:
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": options(relay, colour="blue")}}
        with pytest.raises(ImproperlyConfigured, match=r"MAILERS\['default'\].*'colour'"):
            mailers["default"]
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": options(relay, port="x")}}
        with pytest.raises(ImproperlyConfigured, match=r'MAILERS\["default"\]\["OPTIONS"\]\["port"\]'):
            mailers["default"]

    def test_fail_silently_as_an_option(settings, relay) -> None:
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": options(relay, fail_silently=True)}}
        relay.fail_auth()
        assert mailers["default"].send_messages([EmailMessage("x", "b", None, ["ana@example.com"])]) == 0
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": options(relay)}}
        with pytest.raises(AuthenticationError):
            mailers["default"].send_messages([EmailMessage("x", "b", None, ["ana@example.com"])])

    def test_get_connection_still_works_with_mailers(settings, relay) -> None:
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": options(relay)}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            connection = mail.get_connection(fail_silently=True)
        assert connection.fail_silently is True
        assert connection.alias == "default"

else:

    def test_alias_is_an_unknown_argument_before_django_61(settings) -> None:
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "shop@example.com", "made-up-5"
        with pytest.raises(TypeError, match="'alias'"):
            EmailBackend(alias="default")
        with pytest.raises(TypeError, match="'colour'"):
            EmailBackend(colour="blue")
        assert EmailBackend().alias is None

    def test_the_mailers_setting_is_not_read_before_django_61(use_relay, settings) -> None:
        settings.MAILERS = {"default": {"BACKEND": BACKEND, "OPTIONS": {"host": "unreachable.invalid"}}}
        assert mail.send_mail("Via EMAIL_BACKEND", "body", None, ["ana@example.com"]) == 1
        [received] = use_relay.wait_for(1)
        assert received.subject == "Via EMAIL_BACKEND"
