"""Reading the settings: Django's EMAIL_* and our ACUMBAMAIL dict, errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import RelayConfig, SQLiteEventStore
from acumbamail_smtp.integrations.django import DjangoEventStore, EmailBackend, checks, conf
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.test import override_settings

from tests.transfer import chunking_relay, transfer_commands

CREDENTIALS = {"EMAIL_HOST_USER": "shop@example.com", "EMAIL_HOST_PASSWORD": "made-up-token-1"}
_shared_store = SQLiteEventStore(":memory:")


def memory_store() -> SQLiteEventStore:
    """A factory named by ACUMBAMAIL["STORE"] in a test below."""
    return SQLiteEventStore(":memory:")


@override_settings(**CREDENTIALS)
def test_defaults_are_acumbamails_relay_with_starttls() -> None:
    config = EmailBackend().config
    assert (config.host, config.port, config.security) == ("smtp.acumbamail.com", 587, "starttls")
    assert (config.username, config.password) == ("shop@example.com", "made-up-token-1")
    assert config.timeout == 30.0


@pytest.mark.parametrize(("port", "security"), [(25, "starttls"), (587, "starttls"), (25252, "starttls"),
                                                (465, "tls"), (2525, "tls")])
def test_without_a_tls_setting_the_port_table_decides(port: int, security: str) -> None:
    with override_settings(EMAIL_HOST="smtp.acumbamail.com", EMAIL_PORT=port, **CREDENTIALS):
        assert EmailBackend().config.security == security


@pytest.mark.parametrize(("values", "security"), [
    ({"EMAIL_USE_TLS": True}, "starttls"),
    ({"EMAIL_USE_SSL": True}, "tls"),
    ({"EMAIL_USE_TLS": True, "EMAIL_USE_SSL": False}, "starttls"),
])
def test_an_explicit_tls_setting_wins(values: dict[str, bool], security: str) -> None:
    with override_settings(EMAIL_PORT=25, **CREDENTIALS, **values):
        assert EmailBackend().config.security == security


@override_settings(EMAIL_PORT=25, EMAIL_USE_TLS=False, **CREDENTIALS)
def test_tls_turned_off_with_credentials_is_refused_unless_allowed() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"EMAIL_USE_TLS: 'none' would send the credentials"):
        EmailBackend()
    with override_settings(ACUMBAMAIL={"ALLOW_INSECURE": True}):
        assert EmailBackend().config.security == "none"


@override_settings(EMAIL_USE_TLS=True, EMAIL_USE_SSL=True, **CREDENTIALS)
def test_tls_and_ssl_together_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="EMAIL_USE_TLS and EMAIL_USE_SSL: are both true"):
        EmailBackend()
    with pytest.raises(ImproperlyConfigured, match=r"use_tls= and use_ssl="):
        EmailBackend(use_tls=True, use_ssl=True)


@override_settings(EMAIL_TIMEOUT=3, EMAIL_HOST="relay.example.com", EMAIL_PORT=2525, **CREDENTIALS)
def test_keyword_arguments_override_settings() -> None:
    config = EmailBackend(host="other.example.com", port=587, username="u@example.com",
                          password="made-up-2", timeout=7, default_category="ARGS").config
    assert (config.host, config.port, config.security, config.username, config.timeout) == (
        "other.example.com", 587, "starttls", "u@example.com", 7.0)
    assert config.default_category == "ARGS"
    assert EmailBackend().config.timeout == 3.0


@pytest.mark.parametrize(("values", "name"), [
    ({"EMAIL_PORT": "abc"}, "EMAIL_PORT"),
    ({"EMAIL_PORT": 70000}, "EMAIL_PORT"),
    ({"EMAIL_TIMEOUT": -1}, "EMAIL_TIMEOUT"),
    ({"EMAIL_USE_TLS": "maybe"}, "EMAIL_USE_TLS"),
    ({"ACUMBAMAIL": {"DEFAULT_CATEGORY": "\u0007bell"}}, 'ACUMBAMAIL["DEFAULT_CATEGORY"]'),
    ({"ACUMBAMAIL": {"CA_FILE": "/no/such/ca.pem"}}, 'ACUMBAMAIL["CA_FILE"]'),
    ({"ACUMBAMAIL": {"MAX_TRIES": 0}}, 'ACUMBAMAIL["MAX_TRIES"]'),
    ({"ACUMBAMAIL": {"ALLOW_INSECURE": "perhaps"}}, 'ACUMBAMAIL["ALLOW_INSECURE"]'),
    ({"ACUMBAMAIL": {"DEFAULT_CATEGRY": "typo"}}, 'ACUMBAMAIL["DEFAULT_CATEGRY"]'),
    ({"ACUMBAMAIL": ["not", "a", "dict"]}, "ACUMBAMAIL"),
    ({"EMAIL_HOST_USER": ""}, "EMAIL_HOST_USER"),
    ({"EMAIL_SSL_KEYFILE": "/tmp/key.pem"}, "EMAIL_SSL_CERTFILE"),
])
def test_bad_values_name_the_setting(values: dict[str, object], name: str) -> None:
    with override_settings(**{**CREDENTIALS, **values}):
        with pytest.raises(ImproperlyConfigured) as caught:
            EmailBackend()
    assert str(caught.value).startswith(f"{name}: ")
    assert "made-up-token-1" not in str(caught.value)


def test_ca_file_and_default_category_from_the_acumbamail_dict(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked until a connection is made")
    with override_settings(ACUMBAMAIL={"CA_FILE": ca, "DEFAULT_CATEGORY": " SIGNUP "}, **CREDENTIALS):
        config = EmailBackend().config
    assert config.ca_file == str(ca)
    assert config.default_category == "SIGNUP"


@pytest.mark.django_db
def test_the_store_is_the_orm_by_default_and_suppression_is_on(settings) -> None:
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "shop@example.com", "made-up-3"
    backend = EmailBackend()
    assert isinstance(backend.store, DjangoEventStore)
    assert backend.suppression is True
    settings.ACUMBAMAIL = {"SUPPRESSION": False}
    assert EmailBackend().suppression is False
    settings.ACUMBAMAIL = {"STORE": False}
    assert (EmailBackend().store, EmailBackend().suppression) == (None, False)


def test_store_from_a_dotted_path_is_made_once(settings) -> None:
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "shop@example.com", "made-up-3"
    settings.ACUMBAMAIL = {"STORE": f"{__name__}.memory_store"}
    first, second = EmailBackend().store, EmailBackend().store
    assert isinstance(first, SQLiteEventStore)
    assert first is second
    settings.ACUMBAMAIL = {"STORE": f"{__name__}._shared_store"}
    assert EmailBackend().store is _shared_store
    assert EmailBackend(store=_shared_store).store is _shared_store


@pytest.mark.parametrize(("value", "problem"), [
    ("no.such.module.factory", "cannot import"),
    (f"{__name__}.CREDENTIALS", "is not an EventStore"),
    (42, "must be"),
])
def test_a_bad_store_names_the_setting(settings, value: object, problem: str) -> None:
    settings.ACUMBAMAIL = {"STORE": value}
    with pytest.raises(ImproperlyConfigured, match=problem) as caught:
        conf.event_store()
    assert str(caught.value).startswith('ACUMBAMAIL["STORE"]: ')


def test_without_the_app_there_is_no_store_and_suppression_needs_one(settings) -> None:
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != conf.APP_NAME]
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "shop@example.com", "made-up-3"
    backend = EmailBackend()
    assert backend.store is None
    assert backend.suppression is False
    settings.ACUMBAMAIL = {"SUPPRESSION": True}
    with pytest.raises(ImproperlyConfigured, match=r'ACUMBAMAIL\["SUPPRESSION"\]: needs an event store'):
        EmailBackend()
    settings.ACUMBAMAIL = {"STORE": "django"}
    with pytest.raises(ImproperlyConfigured, match="INSTALLED_APPS"):
        EmailBackend()


TRANSFER = {"CHUNKING": False, "CHUNKING_WINDOW": 3, "MAX_REPLY_LINES": "40", "MAX_REPLY_LINE": 1024,
            "MAX_REPLY_BYTES": 16384, "REPLY_TIMEOUT": "7.5"}


def transfer_fields(config: RelayConfig) -> tuple[object, ...]:
    return (config.chunking, config.chunking_window, config.max_reply_lines, config.max_reply_line,
            config.max_reply_bytes, config.reply_timeout)


def test_chunking_and_reply_limits_from_the_acumbamail_dict_and_arguments() -> None:
    with override_settings(ACUMBAMAIL=TRANSFER, **CREDENTIALS):
        assert transfer_fields(EmailBackend().config) == (False, 3, 40, 1024, 16384, 7.5)
        assert transfer_fields(EmailBackend(chunking=True, chunking_window=5, reply_timeout=2).config) == (
            True, 5, 40, 1024, 16384, 2.0)
        assert transfer_fields(conf.relay_config({})) == (False, 3, 40, 1024, 16384, 7.5)
    with override_settings(**CREDENTIALS):
        assert transfer_fields(EmailBackend().config) == transfer_fields(RelayConfig())
        config = EmailBackend(chunking="off", max_reply_lines=50, max_reply_line=4096, max_reply_bytes=65536).config
        assert transfer_fields(config) == (False, 8, 50, 4096, 65536, None)


@pytest.mark.parametrize(("values", "arguments", "name"), [
    ({"CHUNKING": "perhaps"}, {}, 'ACUMBAMAIL["CHUNKING"]'),
    ({"CHUNKING_WINDOW": 0}, {}, 'ACUMBAMAIL["CHUNKING_WINDOW"]'),
    ({"CHUNKING_WINDOW": "eight"}, {}, 'ACUMBAMAIL["CHUNKING_WINDOW"]'),
    ({"MAX_REPLY_LINES": 0}, {}, 'ACUMBAMAIL["MAX_REPLY_LINES"]'),
    ({"MAX_REPLY_LINE": 10}, {}, 'ACUMBAMAIL["MAX_REPLY_LINE"]'),
    ({"MAX_REPLY_BYTES": True}, {}, 'ACUMBAMAIL["MAX_REPLY_BYTES"]'),
    ({"REPLY_TIMEOUT": "soon"}, {}, 'ACUMBAMAIL["REPLY_TIMEOUT"]'),
    ({"REPLY_TIMEOUT": 0}, {}, 'ACUMBAMAIL["REPLY_TIMEOUT"]'),
    ({"CHUNKING_WINDOW": 4}, {"chunking_window": -1}, "chunking_window="),
    ({}, {"reply_timeout": float("inf")}, "reply_timeout="),
])
def test_bad_chunking_and_reply_limits_name_the_setting(values: dict[str, object], arguments: dict[str, object],
                                                        name: str) -> None:
    with override_settings(ACUMBAMAIL=values, **CREDENTIALS):
        with pytest.raises(ImproperlyConfigured) as caught:
            EmailBackend(**arguments)
    assert str(caught.value).startswith(f"{name}: ")


def test_the_system_check_reports_a_bad_chunking_setting() -> None:
    with override_settings(ACUMBAMAIL={"CHUNKING_WINDOW": "wide"}, **CREDENTIALS):
        errors = [m for m in checks.acumbamail_checks() if m.id == "acumbamail.E002"]
    assert [m.msg for m in errors][:1] == ['ACUMBAMAIL["CHUNKING_WINDOW"]: must be an integer, got \'wide\'']


@pytest.mark.parametrize(("chunking", "commands"), [(False, ["DATA"]), (None, ["BDAT"])])
def test_acumbamail_chunking_decides_between_data_and_bdat(chunking: bool | None, commands: list[str]) -> None:
    with chunking_relay() as (relay, turns):
        project = {"ALLOW_INSECURE": True, "STORE": False}
        if chunking is not None:
            project["CHUNKING"] = chunking
        with override_settings(EMAIL_HOST=turns.host, EMAIL_PORT=turns.port, EMAIL_USE_TLS=False,
                               EMAIL_HOST_USER=relay.username, EMAIL_HOST_PASSWORD=relay.password,
                               ACUMBAMAIL=project):
            message = EmailMessage("by setting", "hello", "shop@example.com", ["ana@example.org"])
            assert EmailBackend().send_messages([message]) == 1
        assert message.acumbamail_status.status == "sent"
        assert [m.subject for m in relay.wait_for(1)] == ["by setting"]
        assert transfer_commands(turns) == commands
