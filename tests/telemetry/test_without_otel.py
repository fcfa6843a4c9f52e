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


LATER = textwrap.dedent("""
    import json
    from acumbamail_smtp import Mailer, Message
    from acumbamail_smtp.message.prepare import prepare
    from acumbamail_smtp.telemetry import hooks
    from acumbamail_smtp.testserver import FakeRelay
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    def message(n):
        return Message(subject=f"s{n}", text="t", from_email="app@example.com", to="a@example.org",
                       category="SIGNUP")

    with FakeRelay() as relay, Mailer(relay.client_config()) as mailer:
        mailer.send(message(1))  # the API's proxy providers only: nothing records, the hooks skip
        quiet = type(hooks.send_span(prepare(message(0)))).__name__
        exporter, reader = InMemorySpanExporter(), InMemoryMetricReader()
        tracer_provider = TracerProvider()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        trace.set_tracer_provider(tracer_provider)
        metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
        mailer.send(message(2))  # the same mailer and instruments, now with an SDK
    sent = [p.value for rm in reader.get_metrics_data().resource_metrics for sm in rm.scope_metrics
            for m in sm.metrics if m.name == "acumbamail_smtp.messages.sent" for p in m.data.data_points]
    print(json.dumps({"quiet": quiet, "spans": [s.name for s in exporter.get_finished_spans()], "sent": sent}))
""")


def test_an_sdk_set_after_the_first_send_is_picked_up() -> None:
    """With the API only the hooks do nothing (the send scope is the null one); the global SDK
    providers set later record the next send, spans and metrics."""
    run = subprocess.run([sys.executable, "-c", LATER], capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert seen == {"quiet": "_Null", "spans": ["acumbamail_smtp.send"], "sent": [1]}
