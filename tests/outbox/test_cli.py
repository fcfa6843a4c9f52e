"""``acumbamail-smtp outbox`` and ``worker --once`` on a SQLite store, and the reports' outbox counts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.cli.main import main
from acumbamail_smtp.outbox import Outbox
from acumbamail_smtp.reports import outbox_counts
from acumbamail_smtp.testserver import FakeRelay

from .conftest import message, relay_ids


def test_stats_list_retry_purge(outbox: Outbox, store: SQLiteEventStore, relay: FakeRelay,
                                capsys: pytest.CaptureFixture[str]) -> None:
    ids = outbox.enqueue([message(1), message(2)])
    where = ["outbox", "--store", store.path]
    assert main([*where, "stats"]) == 0
    assert "queued     2" in capsys.readouterr().out
    [item, _] = outbox.claim(2)
    outbox.mark_failed(item, "550 5.1.1 mailbox unavailable")
    assert outbox_counts(store) == {"queued": 1, "failed": 1}
    assert main([*where, "list", "--status", "failed"]) == 0
    listed = capsys.readouterr().out
    assert ids[0] in listed and "mailbox unavailable" in listed and ids[1] not in listed
    assert main([*where, "retry", ids[0]]) == 0
    assert "1 message(s) queued again" in capsys.readouterr().out
    assert main([*where, "purge", "--status", "queued"]) == 0
    assert "1 queued message(s) deleted" in capsys.readouterr().out
    assert outbox.stats().queued == 0 and outbox.stats().in_flight == 1


def test_the_report_shows_the_outbox(outbox: Outbox, store: SQLiteEventStore,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    outbox.enqueue([message(n) for n in range(3)])
    assert main(["report", "--store", store.path]) == 0
    out = capsys.readouterr().out
    assert "Outbox" in out and "3" in out.split("Outbox", 1)[1]


def test_worker_once_drains_the_outbox(outbox: Outbox, store: SQLiteEventStore, relay: FakeRelay) -> None:
    ids = outbox.enqueue([message(n) for n in range(4)])
    env = {**os.environ, "ACUMBAMAIL_HOST": "127.0.0.1", "ACUMBAMAIL_PORT": str(relay.port),
           "ACUMBAMAIL_USERNAME": relay.username, "ACUMBAMAIL_PASSWORD": relay.password,
           "ACUMBAMAIL_SECURITY": "starttls", "ACUMBAMAIL_CA_FILE": relay.ca_file}
    done = subprocess.run([sys.executable, "-m", "acumbamail_smtp", "worker", "--store", store.path, "--once"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "sent 4, retried 0, failed 0" in done.stdout
    assert relay_ids(relay) == dict.fromkeys(ids, 1)
    assert relay.password not in done.stdout + done.stderr
    assert Path(store.path).exists()
