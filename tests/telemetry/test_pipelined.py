"""The spans of pipelined sends, which are made after each message ends, in the connection's
wait for the relay: made while the batch runs, with the recorded times, never left behind, and
never a reason for a send to fail."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import AsyncMailer, Mailer, Message
from acumbamail_smtp.telemetry import hooks, sends
from acumbamail_smtp.testserver import FakeRelay
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from .conftest import Otel

SEND = "acumbamail_smtp.send"


def msg(n: int, category: str = "NEWS") -> Message:
    return Message(subject=f"hello {n}", text="body", from_email="app@example.com",
                   to=f"user{n}@example.org", category=category)


def messages(count: int) -> Iterator[Message]:
    return (msg(n) for n in range(count))


def test_spans_are_made_while_the_batch_runs_not_only_at_its_end(otel: Otel, relay: FakeRelay) -> None:
    with Mailer(relay.client_config()) as mailer:
        results = mailer.iter_send(messages(20))
        for _ in range(10):
            next(results)
        made_midway = len(otel.spans(SEND))
        rest = list(results)
    assert len(rest) == 10
    # Ten results out: the spans of the messages that ended before the last writes are made.
    assert made_midway >= 5
    assert len(otel.spans(SEND)) == 20


def test_a_pipelined_span_keeps_the_recorded_times_parent_and_exemplar(otel: Otel, relay: FakeRelay) -> None:
    tracer = otel.tracer_provider.get_tracer("test")
    with tracer.start_as_current_span("request") as parent, Mailer(relay.client_config()) as mailer:
        results = mailer.send_many(list(messages(3)))
    spans = otel.spans(SEND)
    assert len(spans) == 3
    assert {s.parent.span_id for s in spans if s.parent} == {parent.get_span_context().span_id}
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        (envelope,) = [e for e in span.events if e.name == "smtp.envelope"]
        assert span.start_time <= envelope.timestamp <= span.end_time
        assert (span.attributes or {})["acumbamail_smtp.status"] == "sent"
    assert {(s.attributes or {})["acumbamail_smtp.queue_id"] for s in spans} == {r.queue_id for r in results}
    (duration,) = otel.points()["acumbamail_smtp.send.duration"]
    assert duration.count == 3
    assert duration.sum == pytest.approx(sum((s.end_time or 0) - (s.start_time or 0) for s in spans) / 1e9)
    assert {e.span_id for e in duration.exemplars} <= {s.context.span_id for s in spans}
    assert duration.exemplars  # the exemplar leads to one of these spans


def test_a_relay_without_pipelining_keeps_no_backlog(otel: Otel) -> None:
    with FakeRelay(pipelining=False) as relay, Mailer(relay.client_config()) as mailer:
        backlog = []
        for _ in mailer.iter_send(messages(sends.PENDING_MAX * 2 + 10)):
            instruments = hooks._instruments
            assert instruments is not None and instruments is not hooks._UNSET
            backlog.append(len(instruments.pending))
    assert max(backlog) <= sends.PENDING_MAX
    assert len(otel.spans(SEND)) == sends.PENDING_MAX * 2 + 10


def test_an_iteration_left_early_still_makes_its_spans(otel: Otel, relay: FakeRelay) -> None:
    with Mailer(relay.client_config()) as mailer:
        results = mailer.iter_send(messages(10))
        first = [next(results) for _ in range(3)]
        results.close()
    assert [r.status for r in first] == ["sent"] * 3
    made = otel.spans(SEND)
    assert len(made) >= 3  # every message that went on the wire, none left pending
    instruments = hooks._instruments
    assert instruments is not None and instruments is not hooks._UNSET and not instruments.pending


async def test_async_batch_spans_are_all_made_when_it_returns(otel: Otel, relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(), pool_size=3) as mailer:
        results = await mailer.send_many(list(messages(30)))
    spans = otel.spans(SEND)
    assert len(spans) == 30
    assert sorted((s.attributes or {})["acumbamail_smtp.queue_id"] for s in spans) == sorted(
        r.queue_id for r in results)


class Broken(SpanProcessor):
    """A span processor that fails on every ended span (an application's bug)."""

    def on_end(self, span: ReadableSpan) -> None:
        raise RuntimeError("exporter bug")


def test_a_failing_span_processor_never_fails_a_send(monkeypatch: pytest.MonkeyPatch, relay: FakeRelay,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(hooks, "_instruments", hooks._UNSET)
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(Broken())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    assert hooks.configure(tracer_provider=provider, meter_provider=MeterProvider(
        metric_readers=[InMemoryMetricReader()]))
    with caplog.at_level(logging.ERROR, logger="acumbamail_smtp.telemetry"), \
            Mailer(relay.client_config()) as mailer:
        single = mailer.send(msg(0))
        batch = mailer.send_many(list(messages(4)))
    assert single.status == "sent" and [r.status for r in batch] == ["sent"] * 4
    assert len(relay.messages) == 5  # each sent once: no failure made anyone retry
    assert sum("could not be" in r.getMessage() for r in caplog.records) == 5


CONNECTION = ["smtp.connect", "smtp.tls", "smtp.auth"]


def opened_on(span: ReadableSpan) -> bool:
    """Whether ``span`` carries a connection's events, checked to come first and in order."""
    names = [e.name for e in span.events]
    if "smtp.connect" not in names:
        return False
    assert names[:3] == CONNECTION and names[3] == "smtp.envelope"
    assert span.start_time is not None and all(span.start_time <= e.timestamp for e in span.events)
    return True


def test_each_new_connection_lands_on_the_first_message_it_carries(otel: Otel, relay: FakeRelay) -> None:
    with Mailer(relay.client_config(), max_per_connection=2) as mailer:
        first = mailer.send_many(list(messages(5)))  # three connections: messages 1, 3 and 5 open one
        assert sends.OPENED.get() is None  # nothing left for an unrelated send
        spans = {(s.attributes or {})["acumbamail_smtp.queue_id"]: s for s in otel.spans(SEND)}
        assert [opened_on(spans[r.queue_id]) for r in first] == [True, False, True, False, True]
        otel.exporter.clear()
        mailer.send_many(list(messages(1)))  # the third connection still has room: nothing opened
    (again,) = otel.spans(SEND)
    assert not opened_on(again)
    assert otel.total("acumbamail_smtp.connections.opened") == 3


async def test_each_pooled_connection_lands_on_one_message(otel: Otel, relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(), pool_size=2) as mailer:
        await mailer.send_many(list(messages(8)))
    assert sum(opened_on(s) for s in otel.spans(SEND)) == 2
    assert otel.total("acumbamail_smtp.connections.opened") == 2


def test_a_drain_connection_lands_on_the_message_that_opened_it(otel: Otel, relay: FakeRelay,
                                                                 tmp_path: Path) -> None:
    from acumbamail_smtp import SQLiteEventStore
    from acumbamail_smtp.outbox import drain, outbox_for

    outbox = outbox_for(SQLiteEventStore(tmp_path / "events.sqlite3"))
    queued = [outbox.enqueue(m) for m in messages(4)]
    report = drain(outbox, Mailer(relay.client_config()))
    assert report.sent == 4
    spans = otel.spans(SEND)
    assert len(spans) == 4 and sum(opened_on(s) for s in spans) == 1
    (opener,) = [s for s in spans if opened_on(s)]
    assert len(queued) == 4
    assert opener.start_time == min(s.start_time or 0 for s in spans)  # the first on the wire
