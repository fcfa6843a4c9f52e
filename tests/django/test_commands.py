"""The management commands against the fake relay."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_acumbamail_check_passes_with_good_settings(use_relay) -> None:
    output = run("acumbamail_check")
    assert "All good" in output
    assert f"127.0.0.1:{use_relay.port}" in output
    assert use_relay.password not in output
    assert use_relay.messages == []  # nothing is sent


def test_acumbamail_check_fails_when_the_relay_refuses_the_credentials(use_relay) -> None:
    use_relay.fail_auth()
    out = io.StringIO()
    with pytest.raises(CommandError, match="check failed"):  # manage.py exits with status 1
        call_command("acumbamail_check", stdout=out)
    assert "FAILED" in out.getvalue()


def test_acumbamail_check_reports_bad_settings(use_relay, settings) -> None:
    settings.EMAIL_PORT = "x"
    with pytest.raises(CommandError, match="EMAIL_PORT"):
        call_command("acumbamail_check")


def test_acumbamail_sendtest(use_relay) -> None:
    output = run("acumbamail_sendtest", "--to", "ana@example.com", "--category", "SENDTEST")
    [received] = use_relay.wait_for(1)
    assert received.category == "SENDTEST"
    assert received.rcpt_tos == ["ana@example.com"]
    assert "status: sent" in output
    assert f"queue id: {received.id}" in output


def test_acumbamail_sendtest_reports_failures(use_relay) -> None:
    use_relay.fail_auth()
    with pytest.raises(CommandError, match="not sent"):
        run("acumbamail_sendtest", "--to", "ana@example.com")
    with pytest.raises(CommandError):  # --to is required
        run("acumbamail_sendtest")
