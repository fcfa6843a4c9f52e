"""``flask acumbamail check`` and ``flask acumbamail send-test`` through Flask's CLI runner."""

from __future__ import annotations

from typing import Any

from acumbamail_smtp.integrations.flask import Acumbamail
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask

from .conftest import relay_settings


def test_check_reports_every_step(app: Flask, relay: FakeRelay) -> None:
    result = app.test_cli_runner().invoke(args=["acumbamail", "check"])
    assert result.exit_code == 0, result.output
    assert "[ok] STARTTLS" in result.output and "[ok] authenticate" in result.output
    assert "All good" in result.output
    assert relay.messages == []


def test_check_fails_with_exit_code_1_and_no_password(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_PASSWORD="made-up-Wrong-Secret-11"))
    Acumbamail(app)
    result = app.test_cli_runner().invoke(args=["acumbamail", "check"])
    assert result.exit_code == 1
    assert "[FAILED] authenticate" in result.output
    assert "made-up-Wrong-Secret-11" not in result.output


def test_send_test_delivers_and_prints_the_outcome(app: Flask, relay: FakeRelay) -> None:
    result = app.test_cli_runner().invoke(args=["acumbamail", "send-test", "ana@example.net",
                                                "--category", "CLI_TEST"])
    assert result.exit_code == 0, result.output
    [received] = relay.wait_for(1)
    assert received.rcpt_tos == ["ana@example.net"] and received.category == "CLI_TEST"
    assert received.mail_from == "shop@example.com"
    assert f"queue id: {received.id}" in result.output
    assert result.output.startswith("sent: ana@example.net")


def test_send_test_explains_a_missing_sender(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay)
    del settings["ACUMBAMAIL_DEFAULT_SENDER"]
    app = make_app(**settings)
    Acumbamail(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["acumbamail", "send-test", "ana@example.net"])
    assert result.exit_code == 1
    assert "--from" in result.output and "ACUMBAMAIL_DEFAULT_SENDER" in result.output
    assert relay.sessions == 0
    result = runner.invoke(args=["acumbamail", "send-test", "ana@example.net", "--from", "me@example.com"])
    assert result.exit_code == 0, result.output
    assert relay.wait_for(1)[0].mail_from == "me@example.com"


def test_send_test_says_when_sending_is_suppressed(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_SUPPRESS_SEND=True))
    Acumbamail(app)
    result = app.test_cli_runner().invoke(args=["acumbamail", "send-test", "ana@example.net"])
    assert result.exit_code == 0
    assert "Not sent" in result.output
    assert relay.sessions == 0
