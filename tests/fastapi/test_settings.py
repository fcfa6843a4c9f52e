"""AcumbamailSettings: ACUMBAMAIL_* variables and .env files into the core RelayConfig."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import ConfigError, Message, RelayConfig
from acumbamail_smtp.integrations.fastapi import AcumbamailSettings, MailerDep, acumbamail_lifespan
from fastapi import FastAPI

from tests.fastapi.helpers import running
from tests.transfer import chunking_relay, transfer_commands

SECRET = "made-up-token-XYZ987"


def test_environment_variables_become_the_relay_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_USERNAME", "owner@example.com")
    monkeypatch.setenv("ACUMBAMAIL_AUTH_TOKEN", SECRET)
    monkeypatch.setenv("ACUMBAMAIL_PORT", "2525")
    monkeypatch.setenv("ACUMBAMAIL_TIMEOUT", "12.5")
    monkeypatch.setenv("ACUMBAMAIL_DEFAULT_FROM", "Shop <shop@example.com>")
    monkeypatch.setenv("ACUMBAMAIL_DEFAULT_CATEGORY", "ORDER_CONFIRMATION")
    monkeypatch.setenv("ACUMBAMAIL_MAX_TRIES", "5")
    monkeypatch.setenv("ACUMBAMAIL_POOL_SIZE", "7")
    monkeypatch.setenv("ACUMBAMAIL_HOST", "")  # empty counts as unset

    settings = AcumbamailSettings()
    config = settings.relay_config()

    assert isinstance(config, RelayConfig)
    assert (config.host, config.port, config.security) == ("smtp.acumbamail.com", 2525, "tls")
    assert (config.username, config.password) == ("owner@example.com", SECRET)
    assert config.timeout == 12.5 and config.max_tries == 5
    assert config.default_from == "Shop <shop@example.com>"
    assert config.default_category == "ORDER_CONFIRMATION"
    assert settings.pool_size == 7


def test_a_dotenv_file_is_read(tmp_path: Path) -> None:
    (Path.cwd() / ".env").write_text(
        "OTHER_APP_SETTING=ignored\nACUMBAMAIL_USERNAME=owner@example.com\n"
        f"ACUMBAMAIL_PASSWORD={SECRET}\nACUMBAMAIL_SECURITY=STARTTLS\nACUMBAMAIL_PORT=25252\n")
    config = AcumbamailSettings().relay_config()
    assert (config.username, config.password, config.port, config.security) == (
        "owner@example.com", SECRET, 25252, "starttls")

    other = tmp_path / "production.env"
    other.write_text("ACUMBAMAIL_HOST=relay.example.net\n")
    assert AcumbamailSettings(_env_file=other).host == "relay.example.net"


def test_environment_wins_over_the_dotenv_file(monkeypatch: pytest.MonkeyPatch) -> None:
    (Path.cwd() / ".env").write_text("ACUMBAMAIL_PORT=465\n")
    monkeypatch.setenv("ACUMBAMAIL_PORT", "587")
    assert AcumbamailSettings().port == 587


def test_secrets_never_print(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_USERNAME", "owner@example.com")
    monkeypatch.setenv("ACUMBAMAIL_PASSWORD", SECRET)
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_TOKEN", "hook-" + SECRET)
    settings = AcumbamailSettings()
    for text in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.relay_config())):
        assert SECRET not in text
    assert settings.webhook_options() == {"token": "hook-" + SECRET}


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("ACUMBAMAIL_PORT", "five-eight-seven", "ACUMBAMAIL_PORT"),
    ("ACUMBAMAIL_SECURITY", "ssl", "ACUMBAMAIL_SECURITY"),
    ("ACUMBAMAIL_ALLOW_INSECURE", "perhaps", "ACUMBAMAIL_ALLOW_INSECURE"),
    ("ACUMBAMAIL_WEBHOOK_INSECURE", "maybe", "ACUMBAMAIL_WEBHOOK_INSECURE"),
    ("ACUMBAMAIL_TIMEOUT", "soon", "ACUMBAMAIL_TIMEOUT"),
])
def test_a_bad_value_is_a_config_error_naming_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                           value: str, expected: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        AcumbamailSettings()
    assert info.value.field == expected
    assert str(info.value).startswith(expected + ": ")
    assert value not in str(info.value)  # the input is not echoed (it could be a secret)


@pytest.mark.parametrize(("variables", "expected"), [
    ({"ACUMBAMAIL_USERNAME": "owner@example.com", "ACUMBAMAIL_SECURITY": "none",
      "ACUMBAMAIL_PASSWORD": SECRET}, "ACUMBAMAIL_SECURITY"),
    ({"ACUMBAMAIL_USERNAME": "owner@example.com"}, "ACUMBAMAIL_PASSWORD"),
    ({"ACUMBAMAIL_AUTH_TOKEN": SECRET}, "ACUMBAMAIL_USERNAME"),
    ({"ACUMBAMAIL_DEFAULT_CATEGORY": "   "}, "ACUMBAMAIL_DEFAULT_CATEGORY"),
    ({"ACUMBAMAIL_DEFAULT_FROM": "not an address"}, "ACUMBAMAIL_DEFAULT_FROM"),
    ({"ACUMBAMAIL_PORT": "70000"}, "ACUMBAMAIL_PORT"),
    ({"ACUMBAMAIL_USERNAME": "owner@example.com", "ACUMBAMAIL_PASSWORD": SECRET,
      "ACUMBAMAIL_AUTH_TOKEN": "another-" + SECRET}, "ACUMBAMAIL_AUTH_TOKEN"),
])
def test_core_validation_errors_name_the_variable(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str],
                                                  expected: str) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        AcumbamailSettings().relay_config()
    assert info.value.field == expected
    assert SECRET not in str(info.value)


def test_other_keys_of_a_shared_dotenv_file_are_left_alone() -> None:
    (Path.cwd() / ".env").write_text("DATABASE_URL=sqlite:///app.db\nSECRET_KEY=abc\nACUMBAMAIL_PORT=465\n")
    assert AcumbamailSettings().port == 465


def test_overrides_win_over_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_PORT", "587")
    config = AcumbamailSettings().relay_config(host="127.0.0.1", port=2525, timeout=3.0)
    assert (config.host, config.port, config.security, config.timeout) == ("127.0.0.1", 2525, "tls", 3.0)


def test_webhook_options_for_the_receiver(monkeypatch: pytest.MonkeyPatch) -> None:
    assert AcumbamailSettings().webhook_options() == {}
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_BASIC_AUTH", "hook:pw1,hook2:pw2")
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_INSECURE", "true")
    assert AcumbamailSettings().webhook_options() == {"basic_auth": "hook:pw1,hook2:pw2", "insecure": True}


TRANSFER_ENV = {"ACUMBAMAIL_CHUNKING": "false", "ACUMBAMAIL_CHUNKING_WINDOW": "3",
                "ACUMBAMAIL_MAX_REPLY_LINES": "40", "ACUMBAMAIL_MAX_REPLY_LINE": "1024",
                "ACUMBAMAIL_MAX_REPLY_BYTES": "16384", "ACUMBAMAIL_REPLY_TIMEOUT": "7.5"}


def transfer_fields(config: RelayConfig) -> tuple[object, ...]:
    return (config.chunking, config.chunking_window, config.max_reply_lines, config.max_reply_line,
            config.max_reply_bytes, config.reply_timeout)


def test_chunking_and_reply_limits_reach_the_relay_config(monkeypatch: pytest.MonkeyPatch) -> None:
    assert transfer_fields(AcumbamailSettings().relay_config()) == transfer_fields(RelayConfig())
    for name, value in TRANSFER_ENV.items():
        monkeypatch.setenv(name, value)
    assert transfer_fields(AcumbamailSettings().relay_config()) == (False, 3, 40, 1024, 16384, 7.5)
    assert AcumbamailSettings().relay_config(chunking=True).chunking is True
    (Path.cwd() / ".env").write_text("ACUMBAMAIL_MAX_REPLY_BYTES=65536\n")
    monkeypatch.delenv("ACUMBAMAIL_MAX_REPLY_BYTES")
    assert AcumbamailSettings().relay_config().max_reply_bytes == 65536


@pytest.mark.parametrize(("name", "value"), [
    ("ACUMBAMAIL_CHUNKING", "perhaps"),
    ("ACUMBAMAIL_CHUNKING_WINDOW", "eight"),
    ("ACUMBAMAIL_MAX_REPLY_LINES", "many"),
    ("ACUMBAMAIL_MAX_REPLY_BYTES", "1.5"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "soon"),
])
def test_an_unreadable_chunking_or_reply_limit_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                                  value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        AcumbamailSettings()
    assert info.value.field == name
    assert value not in str(info.value)


@pytest.mark.parametrize(("name", "value"), [
    ("ACUMBAMAIL_CHUNKING_WINDOW", "0"),
    ("ACUMBAMAIL_MAX_REPLY_LINES", "0"),
    ("ACUMBAMAIL_MAX_REPLY_LINE", "10"),
    ("ACUMBAMAIL_MAX_REPLY_BYTES", "-1"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "0"),
    ("ACUMBAMAIL_REPLY_TIMEOUT", "inf"),
])
def test_a_refused_chunking_or_reply_limit_names_the_variable(monkeypatch: pytest.MonkeyPatch, name: str,
                                                              value: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        AcumbamailSettings().relay_config()
    assert info.value.field == name
    assert str(info.value).startswith(f"{name}: ")


@pytest.mark.parametrize(("chunking", "commands"), [("false", ["DATA"]), (None, ["BDAT"])])
async def test_acumbamail_chunking_decides_between_data_and_bdat(monkeypatch: pytest.MonkeyPatch,
                                                                 chunking: str | None, commands: list[str]) -> None:
    with chunking_relay() as (relay, turns):
        environment = {"HOST": turns.host, "PORT": str(turns.port), "SECURITY": "none", "ALLOW_INSECURE": "true",
                       "USERNAME": relay.username, "PASSWORD": relay.password,
                       "DEFAULT_FROM": "shop@example.com", "CHUNKING_WINDOW": "3"}
        if chunking is not None:
            environment["CHUNKING"] = chunking
        for name, value in environment.items():
            monkeypatch.setenv(f"ACUMBAMAIL_{name}", value)
        app = FastAPI(lifespan=acumbamail_lifespan)

        @app.post("/send")
        async def send(mailer: MailerDep) -> dict[str, object]:
            result = await mailer.send(Message(to="ana@example.org", subject="by setting", text="hello"))
            return {"status": result.status, "chunking": mailer.config.chunking,
                    "window": mailer.config.chunking_window}

        async with running(app) as client:
            answer = (await client.post("/send")).json()
        assert answer == {"status": "sent", "chunking": chunking is None, "window": 3}
        assert [m.subject for m in relay.wait_for(1)] == ["by setting"]
        assert transfer_commands(turns) == commands
