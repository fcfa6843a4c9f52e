"""Send spans and metrics over real SMTP against the fake relay, for both mailers."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import (
    AsyncMailer,
    ConnectionFailed,
    Mailer,
    Message,
    RecipientsRefused,
    SQLiteEventStore,
)
from acumbamail_smtp.telemetry import hooks
from acumbamail_smtp.testserver import FakeRelay
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from .conftest import Otel


def msg(n: int = 1, to: str | list[str] = "user@example.org", category: str | None = "SIGNUP") -> Message:
    return Message(subject=f"hello {n}", text="body", from_email="app@example.com", to=to, category=category)


def test_one_send_is_one_span_with_the_exchange_as_events(otel: Otel, relay: FakeRelay) -> None:
    result = Mailer(relay.client_config()).send(msg(to=["a@example.org", "b@example.org"]))
    (span,) = otel.spans("acumbamail_smtp.send")
    attrs = span.attributes or {}
    assert attrs["acumbamail_smtp.category"] == "SIGNUP"
    assert attrs["acumbamail_smtp.recipients"] == 2
    assert attrs["acumbamail_smtp.accepted"] == 2
    assert attrs["acumbamail_smtp.refused"] == 0
    assert attrs["smtp.reply.code"] == 250
    assert attrs["acumbamail_smtp.queue_id"] == result.queue_id
    assert attrs["acumbamail_smtp.retries"] == 0
    names = [e.name for e in span.events]
    assert names == ["smtp.connect", "smtp.tls", "smtp.auth", "smtp.envelope"]  # one event per pipelined write
    (envelope,) = [e for e in span.events if e.name == "smtp.envelope"]
    assert envelope.attributes["smtp.commands"] == 4  # MAIL, two RCPT and DATA in one write
    assert attrs["acumbamail_smtp.status"] == "sent"
    assert span.start_time is not None and span.end_time is not None
    assert all(span.start_time <= e.timestamp <= span.end_time for e in span.events)
    (duration,) = otel.points()["acumbamail_smtp.send.duration"]  # first: a collection resets exemplars
    assert otel.total("acumbamail_smtp.messages.sent", **{"acumbamail_smtp.category": "SIGNUP"}) == 1
    assert otel.total("acumbamail_smtp.connections.opened") == 1
    assert duration.count == 1
    assert tuple(duration.explicit_bounds)[:3] == (0.005, 0.01, 0.025)  # seconds, not the SDK's ms bounds
    # The histogram and the span read the same clock: the recorded duration is the span's.
    assert duration.sum == pytest.approx((span.end_time - span.start_time) / 1e9)
    assert duration.attributes == {"acumbamail_smtp.category": "SIGNUP", "acumbamail_smtp.status": "sent"}
    # Recorded while the send's span is current: the duration's exemplar leads to this span.
    assert [e.span_id for e in duration.exemplars] == [span.context.span_id]


def test_refused_and_suppressed_are_counted(otel: Otel, relay: FakeRelay, tmp_path: Path) -> None:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    store.suppress("gone@example.org", reason="hard_bounce")
    relay.hard_bounce("bad@example.org")
    mailer = Mailer(relay.client_config(), store=store)
    mailer.send(msg(to=["ok@example.org", "gone@example.org"]))
    with pytest.raises(RecipientsRefused):
        mailer.send(msg(2, to="bad@example.org"))
    first, second = otel.spans("acumbamail_smtp.send")
    assert (first.attributes or {})["acumbamail_smtp.suppressed"] == 1
    assert (second.attributes or {})["acumbamail_smtp.refused"] == 1
    assert otel.total("acumbamail_smtp.messages.sent") == 1
    assert otel.total("acumbamail_smtp.messages.refused") == 1
    assert otel.total("acumbamail_smtp.messages.suppressed") == 1


def test_a_retry_is_an_event_and_counted(otel: Otel, relay: FakeRelay) -> None:
    relay.fail_next_data(451, "4.3.0 try later", times=1)
    Mailer(relay.client_config()).send(msg())
    (span,) = otel.spans("acumbamail_smtp.send")
    assert (span.attributes or {})["acumbamail_smtp.retries"] == 1
    (retry,) = [e for e in span.events if e.name == "retry"]
    assert retry.attributes["acumbamail_smtp.reason"] == "TransientError"
    names = [e.name for e in span.events if e.name in ("smtp.envelope", "retry")]
    assert names == ["smtp.envelope", "retry", "smtp.envelope"]  # one exchange event per try
    assert otel.total("acumbamail_smtp.send.retries") == 1


def test_a_failed_send_marks_the_span_and_counts_the_error(otel: Otel, relay: FakeRelay) -> None:
    config = relay.client_config(max_tries=1)
    relay.stop()
    with pytest.raises(ConnectionFailed):
        Mailer(config).send(msg())
    (span,) = otel.spans("acumbamail_smtp.send")
    assert span.status.status_code is StatusCode.ERROR
    assert otel.total("acumbamail_smtp.messages.failed", **{"error.type": "ConnectionFailed"}) == 1


async def test_async_sends_are_children_of_the_callers_span(otel: Otel, relay: FakeRelay) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as parent:
        async with AsyncMailer(relay.client_config(), pool_size=2) as mailer:
            await mailer.send_many([msg(n) for n in range(3)])
    sends = otel.spans("acumbamail_smtp.send")
    assert len(sends) == 3
    assert {s.parent.span_id for s in sends if s.parent} == {parent.get_span_context().span_id}
    assert all((s.attributes or {})["smtp.reply.code"] == 250 for s in sends)
    assert all([e.name for e in s.events].count("smtp.envelope") == 1 for s in sends)
    assert otel.total("acumbamail_smtp.messages.sent") == 3
    assert otel.total("acumbamail_smtp.connections.opened") == 2


def test_a_sampled_out_send_still_counts_and_times(monkeypatch: pytest.MonkeyPatch, relay: FakeRelay) -> None:
    """A send whose span the sampler drops records no span work, but every metric."""
    monkeypatch.setattr(hooks, "_instruments", hooks._UNSET)
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider(sampler=ALWAYS_OFF)
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    assert hooks.configure(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]))
    otel = Otel(exporter, reader, tracer_provider)
    relay.fail_next_data(451, "4.3.0 try later", times=1)
    Mailer(relay.client_config()).send(msg())
    assert otel.spans() == []
    assert otel.total("acumbamail_smtp.messages.sent", **{"acumbamail_smtp.category": "SIGNUP"}) == 1
    assert otel.total("acumbamail_smtp.send.retries") == 1
    assert otel.total("acumbamail_smtp.connections.opened") == 1
    (duration,) = otel.points()["acumbamail_smtp.send.duration"]
    assert duration.count == 1 and duration.sum > 0


def test_pipelined_batch_is_one_span_per_message_with_its_own_result(otel: Otel, relay: FakeRelay) -> None:
    relay.refuse_recipient("nobody@example.org", 550, "5.1.1 no such user")
    with Mailer(relay.client_config()) as mailer:
        results = mailer.send_many([msg(1), msg(2, to="nobody@example.org"), msg(3, to=["a@example.org",
                                                                                          "b@example.org"])])
    spans = otel.spans("acumbamail_smtp.send")
    assert len(spans) == 3  # several on the wire at once, each its own span, none current
    by_status = {(s.attributes or {})["acumbamail_smtp.status"]: s for s in spans}
    assert set(by_status) == {"sent", "refused"}
    assert [r.status for r in results] == ["sent", "refused", "sent"]
    queue_ids = {(s.attributes or {}).get("acumbamail_smtp.queue_id") for s in spans} - {None}
    assert queue_ids == {results[0].queue_id, results[2].queue_id}
    for span in spans:
        envelopes = [e for e in span.events if e.name == "smtp.envelope"]
        recipients = (span.attributes or {})["acumbamail_smtp.recipients"]
        assert [e.attributes["smtp.commands"] for e in envelopes] == [recipients + 2]
    assert otel.total("acumbamail_smtp.messages.sent") == 2
    assert otel.total("acumbamail_smtp.messages.refused") == 1
    (duration,) = otel.points()["acumbamail_smtp.send.duration"][:1]
    assert duration.count >= 1
