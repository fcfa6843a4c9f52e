"""Settings from ``app.config``: ACUMBAMAIL_* keys, Flask-Mail's MAIL_* fallbacks, read at each send."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from acumbamail_smtp import AuthenticationError, ConfigError, RelayConfig
from acumbamail_smtp.integrations.flask import Acumbamail, Message
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask

from tests.transfer import chunking_relay, transfer_commands

from .conftest import PASSWORD, relay_settings


def flask_mail_settings(relay: FakeRelay, **extra: Any) -> dict[str, Any]:
    """A Flask-Mail configuration for ``relay`` (plus the CA it needs to be verified)."""
    return {
        "MAIL_SERVER": relay.host,
        "MAIL_PORT": relay.port,
        "MAIL_USERNAME": relay.username,
        "MAIL_PASSWORD": relay.password,
        "MAIL_USE_TLS": True,
        "MAIL_DEFAULT_SENDER": ("Flask Shop", "shop@example.com"),
        "MAIL_SUPPRESS_SEND": False,
        "ACUMBAMAIL_CA_FILE": relay.ca_file,
        **extra,
    }


def test_flask_mail_keys_are_fallbacks(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**flask_mail_settings(relay))
    mail = Acumbamail(app)
    with app.app_context():
        config = mail.relay_config()
        mail.send(Message("Hi", recipients=["ana@example.net"], body="x"))
    assert (config.host, config.port, config.username, config.security) == (
        relay.host, relay.port, relay.username, "starttls")
    [received] = relay.wait_for(1)
    assert received.message["From"] == "Flask Shop <shop@example.com>"
    assert received.authenticated_as == relay.username and received.tls


def test_mail_use_ssl_uses_implicit_tls(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**flask_mail_settings(relay, MAIL_PORT=relay.tls_port, MAIL_USE_TLS=False, MAIL_USE_SSL=True))
    mail = Acumbamail(app)
    with app.app_context():
        assert mail.relay_config().security == "tls"
        mail.send(Message("Hi", recipients=["ana@example.net"], body="x"))
    assert relay.wait_for(1)[0].tls


def test_acumbamail_keys_win_over_mail_keys(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**flask_mail_settings(relay, MAIL_SERVER="mail.invalid", MAIL_PORT=1,
                                         MAIL_PASSWORD="made-up-wrong"),
                   ACUMBAMAIL_HOST=relay.host, ACUMBAMAIL_PORT=str(relay.port),
                   ACUMBAMAIL_AUTH_TOKEN=relay.password, ACUMBAMAIL_DEFAULT_SENDER="acu@example.com")
    mail = Acumbamail(app)
    with app.app_context():
        mail.send(Message("Hi", recipients=["ana@example.net"], body="x"))
    assert relay.wait_for(1)[0].mail_from == "acu@example.com"


@pytest.mark.parametrize(("port", "security"), [(465, "tls"), (2525, "tls"), (587, "starttls"), (25252, "starttls")])
def test_without_tls_keys_security_follows_the_port_table(make_app: Any, port: int, security: str) -> None:
    app = make_app(MAIL_PORT=port)
    mail = Acumbamail(app)
    with app.app_context():
        assert mail.relay_config().security == security
        assert mail.relay_config().host == "smtp.acumbamail.com"


def test_plain_text_with_credentials_is_refused_naming_the_key(make_app: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        Acumbamail(make_app(MAIL_USERNAME="me@example.com", MAIL_PASSWORD=PASSWORD, MAIL_USE_TLS=False))
    assert caught.value.field == "MAIL_USE_TLS"
    assert "ACUMBAMAIL_ALLOW_INSECURE" in str(caught.value)
    app = make_app(MAIL_USERNAME="me@example.com", MAIL_PASSWORD=PASSWORD, MAIL_USE_TLS=False,
                   ACUMBAMAIL_ALLOW_INSECURE="true")
    mail = Acumbamail(app)
    with app.app_context():
        assert mail.relay_config().security == "none"


@pytest.mark.parametrize(("config", "key"), [
    ({"ACUMBAMAIL_PORT": "abc"}, "ACUMBAMAIL_PORT"),
    ({"MAIL_PORT": 70000}, "MAIL_PORT"),
    ({"MAIL_PORT": True}, "MAIL_PORT"),
    ({"ACUMBAMAIL_TIMEOUT": "soon"}, "ACUMBAMAIL_TIMEOUT"),
    ({"ACUMBAMAIL_TIMEOUT": -1}, "ACUMBAMAIL_TIMEOUT"),
    ({"ACUMBAMAIL_SECURITY": "ssl"}, "ACUMBAMAIL_SECURITY"),
    ({"MAIL_USE_TLS": True, "MAIL_USE_SSL": True}, "MAIL_USE_SSL"),
    ({"MAIL_USE_TLS": "maybe"}, "MAIL_USE_TLS"),
    ({"MAIL_DEFAULT_SENDER": "not an address"}, "MAIL_DEFAULT_SENDER"),
    ({"MAIL_DEFAULT_SENDER": ("Name", "broken")}, "MAIL_DEFAULT_SENDER"),
    ({"ACUMBAMAIL_DEFAULT_CATEGORY": "a\nb"}, "ACUMBAMAIL_DEFAULT_CATEGORY"),
    ({"ACUMBAMAIL_CA_FILE": "/nonexistent/ca.pem"}, "ACUMBAMAIL_CA_FILE"),
    ({"MAIL_MAX_EMAILS": 0}, "MAIL_MAX_EMAILS"),
    ({"MAIL_SUPPRESS_SEND": "perhaps"}, "MAIL_SUPPRESS_SEND"),
    ({"MAIL_USERNAME": "me@example.com"}, "MAIL_PASSWORD"),
    ({"ACUMBAMAIL_PASSWORD": PASSWORD}, "ACUMBAMAIL_USERNAME"),
])
def test_a_bad_value_names_its_key(make_app: Any, config: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Acumbamail(make_app(**config))
    assert caught.value.field == key
    assert str(caught.value).startswith(f"{key}: ")
    assert PASSWORD not in str(caught.value)


def test_a_bad_value_set_after_init_fails_the_next_send(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    app.config["ACUMBAMAIL_PORT"] = "twenty-five"
    with app.app_context(), pytest.raises(ConfigError, match="ACUMBAMAIL_PORT"):
        mail.send(Message("Hi", recipients=["ana@example.net"], body="x"))
    assert relay.sessions == 0


def test_changing_app_config_after_init_takes_effect_on_the_next_send(app: Flask, mail: Acumbamail,
                                                                     relay: FakeRelay) -> None:
    with app.app_context():
        mail.send(Message("one", recipients=["ana@example.net"], body="x"))
        app.config["ACUMBAMAIL_DEFAULT_CATEGORY"] = "CHANGED"
        app.config["ACUMBAMAIL_DEFAULT_SENDER"] = "new@example.com"
        mail.send(Message("two", recipients=["ana@example.net"], body="x"))
        with FakeRelay(username="other@example.com", password="made-up-other") as other:
            app.config.update(relay_settings(other))
            mail.send(Message("three", recipients=["ana@example.net"], body="x"))
            assert [m.subject for m in other.wait_for(1)] == ["three"]
    first, second = relay.wait_for(2)
    assert (first.category, first.mail_from) == (None, "shop@example.com")
    assert (second.category, second.mail_from) == ("CHANGED", "new@example.com")
    assert len(relay.messages) == 2


def test_wrong_credentials_never_show_the_password(make_app: Any, relay: FakeRelay,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_PASSWORD="made-up-Wrong-Secret-99"))
    mail = Acumbamail(app)
    caplog.set_level(logging.DEBUG)
    with app.app_context():
        with pytest.raises(AuthenticationError) as caught:
            mail.send(Message("Hi", recipients=["ana@example.net"], body="x"))
        assert "made-up-Wrong-Secret-99" not in repr(mail.relay_config())
    assert "made-up-Wrong-Secret-99" not in str(caught.value)
    assert "made-up-Wrong-Secret-99" not in caplog.text
    assert relay.messages == []


def test_a_misspelt_acumbamail_key_is_reported(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "acumbamail_smtp.flask")
    Acumbamail(make_app(ACUMBAMAIL_PASWORD="x"))
    assert "ACUMBAMAIL_PASWORD" in caplog.text
    assert "'x'" not in caplog.text


TRANSFER = {"ACUMBAMAIL_CHUNKING": "off", "ACUMBAMAIL_CHUNKING_WINDOW": "3", "ACUMBAMAIL_MAX_REPLY_LINES": 40,
            "ACUMBAMAIL_MAX_REPLY_LINE": 1024, "ACUMBAMAIL_MAX_REPLY_BYTES": "16384",
            "ACUMBAMAIL_REPLY_TIMEOUT": 7.5}


def transfer_fields(config: RelayConfig) -> tuple[object, ...]:
    return (config.chunking, config.chunking_window, config.max_reply_lines, config.max_reply_line,
            config.max_reply_bytes, config.reply_timeout)


def test_chunking_and_reply_limits_reach_the_relay_config(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app(**TRANSFER)
    mail = Acumbamail(app)
    with app.app_context():
        assert transfer_fields(mail.relay_config()) == (False, 3, 40, 1024, 16384, 7.5)
        app.config["ACUMBAMAIL_CHUNKING_WINDOW"] = 2  # read at each send, like every key
        assert mail.relay_config().chunking_window == 2
    bare = make_app()
    with bare.app_context():
        assert transfer_fields(Acumbamail(bare).relay_config()) == transfer_fields(RelayConfig())
        monkeypatch.setenv("ACUMBAMAIL_REPLY_TIMEOUT", "4")  # the environment fills unset keys
        assert bare.extensions["acumbamail"].extension.relay_config().reply_timeout == 4.0


@pytest.mark.parametrize(("key", "value"), [
    ("ACUMBAMAIL_CHUNKING", "perhaps"),
    ("ACUMBAMAIL_CHUNKING_WINDOW", 0),
    ("ACUMBAMAIL_CHUNKING_WINDOW", "eight"),
    ("ACUMBAMAIL_MAX_REPLY_LINES", 0),
    ("ACUMBAMAIL_MAX_REPLY_LINE", 10),
    ("ACUMBAMAIL_MAX_REPLY_BYTES", True),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "soon"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", -1),
])
def test_a_bad_chunking_or_reply_limit_names_its_key(make_app: Any, key: str, value: Any) -> None:
    with pytest.raises(ConfigError) as caught:
        Acumbamail(make_app(**{key: value}))
    assert caught.value.field == key
    assert str(caught.value).startswith(f"{key}: ")


def test_the_new_keys_are_not_reported_as_typos(make_app: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "acumbamail_smtp.flask")
    app = make_app(**TRANSFER)
    with app.app_context():
        Acumbamail(app).relay_config()
    assert "not an acumbamail-smtp setting" not in caplog.text


@pytest.mark.parametrize(("chunking", "commands"), [(False, ["DATA"]), (None, ["BDAT"])])
def test_acumbamail_chunking_decides_between_data_and_bdat(make_app: Any, chunking: bool | None,
                                                           commands: list[str]) -> None:
    with chunking_relay() as (relay, turns):
        app = make_app(ACUMBAMAIL_HOST=turns.host, ACUMBAMAIL_PORT=turns.port, ACUMBAMAIL_SECURITY="none",
                       ACUMBAMAIL_ALLOW_INSECURE=True, ACUMBAMAIL_USERNAME=relay.username,
                       ACUMBAMAIL_PASSWORD=relay.password, ACUMBAMAIL_DEFAULT_SENDER="shop@example.com",
                       ACUMBAMAIL_SUPPRESS_SEND=False, ACUMBAMAIL_STORE=False, ACUMBAMAIL_CHUNKING=chunking)
        mail = Acumbamail(app)
        with app.app_context():
            result = mail.send(Message("by setting", recipients=["ana@example.net"], body="hello"))
        assert result.status == "sent"
        assert [m.subject for m in relay.wait_for(1)] == ["by setting"]
        assert transfer_commands(turns) == commands
