"""The acumbamail-smtp command: check, send and demo, against the fake relay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from acumbamail_smtp.cli.main import main
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD, USERNAME


@pytest.fixture
def relay_env(relay: FakeRelay, monkeypatch: pytest.MonkeyPatch) -> FakeRelay:
    for key, value in {
        "ACUMBAMAIL_HOST": relay.host, "ACUMBAMAIL_PORT": str(relay.port),
        "ACUMBAMAIL_USERNAME": USERNAME, "ACUMBAMAIL_AUTH_TOKEN": PASSWORD,
        "ACUMBAMAIL_CA_FILE": relay.ca_file, "ACUMBAMAIL_DEFAULT_FROM": "Shop <shop@example.com>",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("ACUMBAMAIL_PASSWORD", raising=False)
    return relay


def test_check_walks_every_step_and_sends_nothing(relay_env: FakeRelay, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    for step in ("resolve host", "connect", "STARTTLS", "authenticate", "All good"):
        assert step in out
    assert "TLSv1." in out and PASSWORD not in out
    assert relay_env.messages == []


def test_check_says_what_failed(relay_env: FakeRelay, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("ACUMBAMAIL_AUTH_TOKEN", "not-the-token")
    assert main(["check"]) == 1
    out = capsys.readouterr().out
    assert "[FAILED] authenticate" in out and "may not be enabled" in out
    assert "not-the-token" not in out
    monkeypatch.delenv("ACUMBAMAIL_CA_FILE")
    assert main(["check"]) == 1
    assert "[FAILED] STARTTLS" in capsys.readouterr().out


def test_check_implicit_tls_with_flags(relay_env: FakeRelay, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--port", str(relay_env.tls_port), "--security", "tls"]) == 0
    assert "[ok] implicit TLS" in capsys.readouterr().out


def test_send_command(relay_env: FakeRelay, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "body.txt").write_text("Hello from the CLI", "utf-8")
    (tmp_path / "body.html").write_text("<p>Hello</p>", "utf-8")
    code = main(["send", "--to", "ana@example.org", "--to", "bob@example.org", "--subject", "CLI test",
                 "--text", str(tmp_path / "body.txt"), "--html", str(tmp_path / "body.html"),
                 "--category", "NOTIFICATION", "--attach", str(tmp_path / "body.txt")])
    assert code == 0
    assert capsys.readouterr().out.startswith("sent:")
    received = relay_env.wait_for(1)[0]
    assert received.rcpt_tos == ["ana@example.org", "bob@example.org"]
    assert received.category == "NOTIFICATION"
    assert received.message.get_body(("plain",)).get_content().strip() == "Hello from the CLI"


def test_send_command_reports_errors_without_traceback(relay_env: FakeRelay,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["send", "--to", "not-an-address", "--subject", "x"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: InvalidMessage")


def test_send_command_unreadable_body_file(relay_env: FakeRelay, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    for path in (tmp_path / "missing.txt", tmp_path / "latin1.txt"):
        assert main(["send", "--to", "a@example.org", "--subject", "x", "--text", str(path)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("error: InvalidMessage: --text")
        assert "Traceback" not in err
    assert relay_env.messages == []


def test_no_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "demo" in capsys.readouterr().out


def test_demo_runs_end_to_end_in_a_fresh_process() -> None:
    proc = subprocess.run([sys.executable, "-m", "acumbamail_smtp", "demo"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "The relay received 6 messages" in out
    assert "SIGNUP" in out and "ORDER_CONFIRMATION" in out
    assert "starter template 'registration_confirmation': sent" in out
    assert "hard_bounce  nobody@example.org" in out
    assert "clicked      ana@example.org" in out
    assert "RecipientsRefused, suppressed ['nobody@example.org']" in out
    assert "Report: sent 6, delivered 5, opened 1, clicked 1, hard bounces 1, suppressed 1" in out
