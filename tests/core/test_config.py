"""RelayConfig: the port table, validation with named fields, env reading, and no secret leaks."""

from __future__ import annotations

import logging
import os

import pytest
from acumbamail_smtp import ConfigError, Mailer, Message, RelayConfig, security_for_port

from tests.transfer import chunking_relay, transfer_commands

SECRET = "s3cr3t-Token-value"


@pytest.mark.parametrize(
    ("port", "security"),
    [(587, "starttls"), (25252, "starttls"), (25, "starttls"), (465, "tls"), (2525, "tls"), (2526, "starttls")],
)
def test_security_follows_acumbamails_port_table(port: int, security: str) -> None:
    assert security_for_port(port) == security
    assert RelayConfig(port=port).security == security


def test_defaults_point_at_acumbamail_with_starttls() -> None:
    config = RelayConfig()
    assert (config.host, config.port, config.security, config.timeout) == (
        "smtp.acumbamail.com", 587, "starttls", 30.0)
    assert config.allow_insecure is False


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"port": 0}, "port", "1 to 65535"),
        ({"port": 70000}, "port", "1 to 65535"),
        ({"port": "587"}, "port", "integer"),
        ({"security": "ssl"}, "security", "starttls, tls, none"),
        ({"timeout": 0}, "timeout", "positive"),
        ({"password": "x"}, "username", "required"),
        ({"username": "a@b.com"}, "password", "required"),
        ({"host": ""}, "host", "non-empty"),
        ({"default_category": "  "}, "default_category", "empty"),
        ({"default_category": "x" * 101}, "default_category", "100"),
        ({"default_from": "not an address"}, "default_from", "not an e-mail"),
        ({"ca_file": "/nonexistent/ca.pem"}, "ca_file", "no such file"),
        ({"max_tries": 0}, "max_tries", ">= 1"),
        ({"timeout": float("nan")}, "timeout", "positive"),
        ({"timeout": float("inf")}, "timeout", "positive"),
        ({"retry_backoff": "fast"}, "retry_backoff", "number of seconds"),
    ],
)
def test_bad_values_raise_config_error_naming_the_field(kwargs: dict, field: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        RelayConfig(**kwargs)
    assert info.value.field == field
    assert words in str(info.value)


def test_credentials_never_go_over_a_plain_connection_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="clear text") as info:
        RelayConfig(port=2500, security="none", username="a@b.com", password=SECRET)
    assert info.value.field == "security"
    assert SECRET not in str(info.value)
    allowed = RelayConfig(port=2500, security="none", username="a@b.com", password=SECRET, allow_insecure=True)
    assert allowed.security == "none"
    assert RelayConfig(security="none").security == "none"  # no credentials: nothing to leak


def test_from_env_reads_every_variable() -> None:
    env = {
        "ACUMBAMAIL_HOST": "relay.example.test", "ACUMBAMAIL_PORT": "465",
        "ACUMBAMAIL_USERNAME": "me@example.com", "ACUMBAMAIL_AUTH_TOKEN": SECRET,
        "ACUMBAMAIL_TIMEOUT": "12.5", "ACUMBAMAIL_DEFAULT_FROM": "Shop <shop@example.com>",
        "ACUMBAMAIL_DEFAULT_CATEGORY": "SIGNUP",
    }
    config = RelayConfig.from_env(env)
    assert config.host == "relay.example.test"
    assert config.port == 465 and config.security == "tls"
    assert config.username == "me@example.com" and config.password == SECRET
    assert config.timeout == 12.5
    assert config.default_from == "Shop <shop@example.com>"
    assert config.default_category == "SIGNUP"
    assert RelayConfig.from_env({**env, "ACUMBAMAIL_PASSWORD": "pw", "ACUMBAMAIL_SECURITY": "STARTTLS"}).password == "pw"
    assert RelayConfig.from_env(env, port=587).security == "starttls"
    sender = {"ACUMBAMAIL_DEFAULT_SENDER": "Flask <f@example.com>"}
    assert RelayConfig.from_env(sender).default_from == "Flask <f@example.com>"


def test_from_env_bad_number_names_the_variable() -> None:
    with pytest.raises(ConfigError) as info:
        RelayConfig.from_env({"ACUMBAMAIL_PORT": "five-eight-seven"})
    assert info.value.field == "ACUMBAMAIL_PORT"


def test_secret_is_not_in_repr_str_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    config = RelayConfig(username="me@example.com", password=SECRET)
    caplog.set_level(logging.DEBUG)
    logging.getLogger("test").info("config %s %r", config, config)
    for text in (repr(config), str(config), caplog.text):
        assert SECRET not in text
    assert "me@example.com" in repr(config)


def test_replace_revalidates_and_reapplies_the_port_table() -> None:
    config = RelayConfig()
    assert config.replace(port=465).security == "tls"
    assert config.replace(port=465, security="starttls").security == "starttls"
    with pytest.raises(ConfigError):
        config.replace(port=-1)


def test_config_from_settings_names_the_framework_setting() -> None:
    from acumbamail_smtp.config import config_from_settings

    names = {"port": "EMAIL_PORT", "security": "EMAIL_USE_TLS", "allow_insecure": "ALLOW_INSECURE"}
    with pytest.raises(ConfigError) as info:
        config_from_settings({"port": 0}, names)
    assert info.value.field == "EMAIL_PORT"
    with pytest.raises(ConfigError) as info:
        config_from_settings({"security": "none", "username": "a@b.com", "password": SECRET}, names)
    assert info.value.field == "EMAIL_USE_TLS"
    assert "ALLOW_INSECURE = True" in str(info.value)
    assert SECRET not in str(info.value)
    assert config_from_settings({"port": 465}, names).security == "tls"


TRANSFER_ENV = {"ACUMBAMAIL_CHUNKING": "off", "ACUMBAMAIL_CHUNKING_WINDOW": "3",
                "ACUMBAMAIL_MAX_REPLY_LINES": "40", "ACUMBAMAIL_MAX_REPLY_LINE": " 1024 ",
                "ACUMBAMAIL_MAX_REPLY_BYTES": "16384", "ACUMBAMAIL_REPLY_TIMEOUT": "7.5"}


def use_environment(monkeypatch: pytest.MonkeyPatch, values: dict[str, str]) -> None:
    """Exactly ``values`` as the ACUMBAMAIL_* variables of this test."""
    for name in [n for n in os.environ if n.startswith("ACUMBAMAIL_")]:
        monkeypatch.delenv(name)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_from_env_reads_chunking_and_the_reply_limits_into_the_mailers_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    use_environment(monkeypatch, TRANSFER_ENV)
    config = Mailer().config  # no config: the mailer reads the environment
    assert (config.chunking, config.chunking_window) == (False, 3)
    assert (config.max_reply_lines, config.max_reply_line, config.max_reply_bytes) == (40, 1024, 16384)
    assert config.reply_timeout == 7.5 and config.reply_deadline == 7.5
    assert RelayConfig.from_env({"ACUMBAMAIL_CHUNKING": "yes"}).chunking is True
    assert RelayConfig.from_env(TRANSFER_ENV, chunking_window=5).chunking_window == 5
    unset = RelayConfig.from_env({name: "" for name in TRANSFER_ENV})  # empty counts as unset
    assert (unset.chunking, unset.chunking_window, unset.reply_timeout) == (True, 8, None)


@pytest.mark.parametrize(("name", "value", "words"), [
    ("ACUMBAMAIL_CHUNKING", "maybe", "true or false"),
    ("ACUMBAMAIL_CHUNKING_WINDOW", "eight", "integer"),
    ("ACUMBAMAIL_CHUNKING_WINDOW", "0", ">= 1"),
    ("ACUMBAMAIL_MAX_REPLY_LINES", "0", ">= 1"),
    ("ACUMBAMAIL_MAX_REPLY_LINE", "10", ">= 64"),
    ("ACUMBAMAIL_MAX_REPLY_BYTES", "1.5", "integer"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "soon", "seconds"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "-1", "positive"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "nan", "positive"),
    ("ACUMBAMAIL_PORT", "70000", "1 to 65535"),
    ("ACUMBAMAIL_MAX_TRIES", "0", ">= 1"),
])
def test_from_env_bad_values_name_the_variable(name: str, value: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        RelayConfig.from_env({name: value})
    assert info.value.field == name
    assert str(info.value).startswith(f"{name}: ") and words in str(info.value)


def test_from_env_names_the_variable_to_set_and_leaves_overrides_by_field() -> None:
    with pytest.raises(ConfigError) as info:
        RelayConfig.from_env({"ACUMBAMAIL_AUTH_TOKEN": SECRET})
    assert info.value.field == "ACUMBAMAIL_USERNAME"
    assert SECRET not in str(info.value)
    with pytest.raises(ConfigError) as info:
        RelayConfig.from_env({"ACUMBAMAIL_USERNAME": "a@b.com", "ACUMBAMAIL_AUTH_TOKEN": SECRET,
                              "ACUMBAMAIL_SECURITY": "none"})
    assert info.value.field == "ACUMBAMAIL_SECURITY"
    assert "ACUMBAMAIL_ALLOW_INSECURE = True" in str(info.value)
    with pytest.raises(ConfigError) as info:
        RelayConfig.from_env({"ACUMBAMAIL_CHUNKING_WINDOW": "4"}, chunking_window=0)
    assert info.value.field == "chunking_window"


@pytest.mark.parametrize(("chunking", "commands"), [("false", ["DATA"]), ("", ["BDAT"])])
def test_acumbamail_chunking_decides_between_data_and_bdat(monkeypatch: pytest.MonkeyPatch, chunking: str,
                                                           commands: list[str]) -> None:
    with chunking_relay() as (relay, turns):
        use_environment(monkeypatch, {
            "ACUMBAMAIL_HOST": turns.host, "ACUMBAMAIL_PORT": str(turns.port), "ACUMBAMAIL_SECURITY": "none",
            "ACUMBAMAIL_ALLOW_INSECURE": "true", "ACUMBAMAIL_USERNAME": relay.username,
            "ACUMBAMAIL_PASSWORD": relay.password, "ACUMBAMAIL_CHUNKING": chunking,
        })
        with Mailer() as mailer:
            result = mailer.send(Message(from_email="shop@example.com", to="ana@example.org",
                                         subject="by setting", text="hello"))
        assert result.status == "sent"
        assert [m.subject for m in relay.wait_for(1)] == ["by setting"]
        assert transfer_commands(turns) == commands
