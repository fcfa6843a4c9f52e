"""``acumbamail-smtp webhook serve``: a standalone endpoint, run as a real process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from acumbamail_smtp import SQLiteEventStore

TOKEN = "made-up-token-0123456789abcdef"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def post(url: str, payload: object) -> int:
    request = urllib.request.Request(url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def test_serve_stores_events_and_suppresses(tmp_path: Path) -> None:
    store_path = tmp_path / "events.sqlite3"
    port = free_port()
    env = {**os.environ, "ACUMBAMAIL_WEBHOOK_TOKEN": TOKEN}
    proc = subprocess.Popen(
        [sys.executable, "-m", "acumbamail_smtp", "webhook", "serve", "--port", str(port),
         "--store", str(store_path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        banner = proc.stdout.readline()
        assert f"127.0.0.1:{port}/webhooks" in banner
        assert TOKEN not in banner
        base = f"http://127.0.0.1:{port}/webhooks"
        bounce = {"1": {"email_key": "Q1", "timestamp": time.time(), "email": "Gone@Example.org",
                        "event": "hard_bounces", "campaign_id": None, "list_id": None, "subscriber_fields": {}}}
        assert post(f"{base}/not-the-token", bounce) == 403
        assert post(base, bounce) == 401
        assert post(f"{base}/{TOKEN}", {"1": "not an event"}) == 400
        assert post(f"http://127.0.0.1:{port}/elsewhere/{TOKEN}", bounce) == 404
        assert post(f"{base}/{TOKEN}", bounce) == 200
        assert post(f"{base}?token={TOKEN}", bounce) == 200  # a duplicate: stored once
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert TOKEN not in out + err
    store = SQLiteEventStore(store_path)
    try:
        assert [e.type.value for e in store.events()] == ["hard_bounce"]
        assert store.suppressed(["gone@example.org"]) == {"gone@example.org"}
    finally:
        store.close()
