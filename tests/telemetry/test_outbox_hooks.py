"""The functions the outbox calls: a span per drain batch, the depth/oldest-age gauges, and the
trace parent stored with a queued message and attached by the worker that sends it."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import Mailer, Message, telemetry
from acumbamail_smtp.testserver import FakeRelay

from .conftest import Otel


def test_drain_span_is_the_parent_of_its_sends(otel: Otel, relay: FakeRelay) -> None:
    with telemetry.drain_span(2) as batch, Mailer(relay.client_config()) as mailer:
        for n in range(2):
            mailer.send(Message(subject=f"s{n}", text="t", from_email="app@example.com", to="a@example.org"))
        batch.done(sent=2, failed=0)
    (drain,) = otel.spans("acumbamail_smtp.outbox.drain")
    assert dict(drain.attributes or {}) == {"acumbamail_smtp.outbox.batch_size": 2,
                                            "acumbamail_smtp.outbox.sent": 2, "acumbamail_smtp.outbox.failed": 0}
    sends = otel.spans("acumbamail_smtp.send")
    assert [s.parent.span_id for s in sends if s.parent] == [drain.context.span_id] * 2


def test_outbox_gauges_read_the_stats_at_each_collection(otel: Otel) -> None:
    readings = iter([(3, 42.5), (0, None)])
    assert telemetry.observe_outbox(lambda: next(readings))
    first = otel.points()
    assert [p.value for p in first["acumbamail_smtp.outbox.depth"]] == [3]
    assert [p.value for p in first["acumbamail_smtp.outbox.oldest_age"]] == [42.5]
    second = otel.points()
    assert [p.value for p in second["acumbamail_smtp.outbox.depth"]] == [0]
    assert not second.get("acumbamail_smtp.outbox.oldest_age")


def test_a_stats_failure_is_logged_not_raised(otel: Otel, caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> tuple[int, float | None]:
        raise RuntimeError("database gone")

    telemetry.observe_outbox(broken)
    assert not otel.points().get("acumbamail_smtp.outbox.depth")
    assert "outbox statistics could not be read" in caplog.text


def test_the_stored_trace_parent_continues_the_trace_in_the_worker(otel: Otel, relay: FakeRelay) -> None:
    assert telemetry.current_traceparent() is None  # no span: nothing to store
    with otel.tracer_provider.get_tracer("test").start_as_current_span("enqueue") as request:
        parent = telemetry.current_traceparent()
    assert parent is not None
    context = request.get_span_context()
    assert parent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    with telemetry.attach(parent):  # later, in the worker: the send joins the request's trace
        Mailer(relay.client_config()).send(
            Message(subject="s", text="t", from_email="app@example.com", to="a@example.org"))
    (send,) = otel.spans("acumbamail_smtp.send")
    assert send.context.trace_id == context.trace_id
    assert send.parent is not None and send.parent.span_id == context.span_id
    with telemetry.attach("garbage"):  # a damaged parent starts a fresh trace, never raises
        assert telemetry.current_traceparent() is None


def test_the_real_outbox_carries_the_trace_from_enqueue_to_the_drain(otel: Otel, relay: FakeRelay,
                                                                     tmp_path: Path) -> None:
    from acumbamail_smtp import SQLiteEventStore
    from acumbamail_smtp.outbox import drain, outbox_for

    outbox = outbox_for(SQLiteEventStore(tmp_path / "events.sqlite3"))
    with otel.tracer_provider.get_tracer("test").start_as_current_span("request") as request:
        outbox.enqueue(Message(subject="s", text="t", from_email="app@example.com", to="a@example.org"))
    report = drain(outbox, Mailer(relay.client_config()))
    assert report.sent == 1 and len(relay.messages) == 1
    (batch,) = otel.spans("acumbamail_smtp.outbox.drain")
    assert batch.attributes["acumbamail_smtp.outbox.sent"] == 1
    (send,) = otel.spans("acumbamail_smtp.send")
    assert send.context.trace_id == request.get_span_context().trace_id  # the request's trace goes on
