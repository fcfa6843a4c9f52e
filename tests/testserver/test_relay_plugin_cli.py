"""The pytest plugin's fixtures and the ``acumbamail-smtp testserver`` command."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import ssl
import subprocess
import sys
import textwrap
import urllib.request

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.testserver.relay_helpers import build_message, send

pytest_plugins = ["pytester"]


def test_fixture_gives_a_started_relay(acumbamail_relay):
    assert isinstance(acumbamail_relay, FakeRelay)
    assert acumbamail_relay.running
    assert acumbamail_relay.client_config().port == acumbamail_relay.port


def test_factory_makes_independent_relays(acumbamail_relay_factory):
    one = acumbamail_relay_factory()
    two = acumbamail_relay_factory(username="other@example.com", starttls=False)
    assert one.port != two.port
    assert two.username == "other@example.com"


def test_plugin_in_a_users_project(pytester):
    pytester.makepyfile(
        """
        import smtplib, ssl

        def test_send(acumbamail_relay):
            config = acumbamail_relay.client_config()
            context = ssl.create_default_context(cafile=config.ca_file)
            with smtplib.SMTP(config.host, config.port, timeout=10) as client:
                client.starttls(context=context)
                client.login(config.username, config.password)
                client.sendmail("a@example.com", ["b@example.com"], b"Subject: hi\\r\\n\\r\\nbody\\r\\n")
            [message] = acumbamail_relay.wait_for(1)
            assert message.subject == "hi"

        def test_stopped_after(acumbamail_relay_factory):
            relay = acumbamail_relay_factory()
            assert relay.running
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )


def test_plugin_imports_nothing_heavy_and_survives_missing_aiosmtpd():
    result = run_python(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("aiosmtpd", "trustme"):
                    raise ImportError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, Block())
        import acumbamail_smtp.testserver.pytest_plugin
        import acumbamail_smtp.testserver
        assert "aiosmtpd" not in sys.modules and "acumbamail_smtp.testserver.relay" not in sys.modules
        try:
            acumbamail_smtp.testserver.FakeRelay
        except ImportError as exc:
            print("ImportError:", exc)
        """
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError:" in result.stdout
    assert "pip install 'acumbamail-smtp[testserver]'" in result.stdout


def test_plugin_module_imports_without_pytest_and_defines_nothing():
    result = run_python(
        """
        import sys

        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("pytest", "_pytest"):
                    raise ImportError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, Block())
        import acumbamail_smtp.testserver.pytest_plugin as plugin
        print(hasattr(plugin, "acumbamail_relay"), hasattr(plugin, "acumbamail_relay_factory"))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False"]


def read_banner(process: subprocess.Popen[str]) -> str:
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Press Ctrl-C"):
            return "".join(lines)
    raise AssertionError(f"the command ended early: {''.join(lines)}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_testserver_serves_until_signalled(sig):
    process = subprocess.Popen(
        [sys.executable, "-m", "acumbamail_smtp", "testserver", "--username", "dev@example.com",
         "--password", "dev-password"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = read_banner(process)
        env = dict(re.findall(r"^export (ACUMBAMAIL_\w+)=(.*)$", banner, re.MULTILINE))
        assert env["ACUMBAMAIL_HOST"] == "127.0.0.1"
        assert env["ACUMBAMAIL_USERNAME"] == "dev@example.com"
        assert env["ACUMBAMAIL_PASSWORD"] == "dev-password"
        assert env["ACUMBAMAIL_SECURITY"] == "starttls"
        tls_port = int(re.search(r"tls port:\s+(\d+)", banner).group(1))
        web = re.search(r"web UI:\s+(\S+)", banner).group(1)

        context = ssl.create_default_context(cafile=env["ACUMBAMAIL_CA_FILE"])
        with smtplib.SMTP(env["ACUMBAMAIL_HOST"], int(env["ACUMBAMAIL_PORT"]), timeout=10) as client:
            client.starttls(context=context)
            client.login(env["ACUMBAMAIL_USERNAME"], env["ACUMBAMAIL_PASSWORD"])
            send(client, build_message("from the CLI test"), ["a@example.com"])
        with smtplib.SMTP_SSL("127.0.0.1", tls_port, context=context, timeout=10) as client:
            assert client.noop()[0] == 250
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{web}api/messages", timeout=10) as response:
            assert b"from the CLI test" in response.read()

        process.send_signal(sig)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "fake relay stopped" in out
    assert not os.path.exists(env["ACUMBAMAIL_CA_FILE"])


def test_cli_reports_a_bad_webhook_url():
    result = subprocess.run(
        [sys.executable, "-m", "acumbamail_smtp", "testserver", "--webhook-url", "ftp://x/?token=hush"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "webhook_url must be an absolute http" in result.stdout
    assert "hush" not in result.stdout + result.stderr
