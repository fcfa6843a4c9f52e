"""Without ``opentelemetry`` importable, sending and webhook posts work and nothing of it (nor
the library's OpenTelemetry module) is imported. A child interpreter hides the package with a
meta-path finder that refuses it, as if the extra were not installed."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent("""
    import json, sys

    class Hide:
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Hide())
    from acumbamail_smtp import Mailer, Message, SQLiteEventStore, WebhookReceiver, WebhookVerifier
    from acumbamail_smtp import health, telemetry
    from acumbamail_smtp.smtp import RecordingConnection

    mailer = Mailer(connection=RecordingConnection())
    result = mailer.send(Message(subject="s", text="t", from_email="app@example.com", to="a@example.org"))
    store = SQLiteEventStore(sys.argv[1])
    answer = WebhookReceiver(store, WebhookVerifier(token="tok")).handle(
        b'{"1": {"event": "delivered", "email": "a@example.org", "timestamp": 1734436800}}',
        content_type="application/json", path_token="tok")
    with telemetry.drain_span(1) as batch, telemetry.attach(telemetry.current_traceparent()):
        batch.done(1)
    print(json.dumps({
        "status": result.status, "webhook": answer.status, "enabled": telemetry.enabled(),
        "observed": telemetry.observe_outbox(lambda: (0, None)),
        "store_ok": health(store=store, relay=False).ok,
        "loaded": sorted(m for m in sys.modules if "opentelemetry" in m or m.endswith("telemetry.otel")),
    }))
""")


def test_nothing_of_opentelemetry_is_imported_when_it_is_missing(tmp_path: Path) -> None:
    run = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "events.sqlite3")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen == {"status": "sent", "webhook": 200, "enabled": False, "observed": False, "store_ok": True,
                    "loaded": []}
