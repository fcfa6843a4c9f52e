"""The SDK's in-memory exporter and metric reader, installed as this library's providers for one
test (the global providers stay untouched), and the fake relay with credentials."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from acumbamail_smtp.telemetry import hooks
from acumbamail_smtp.testserver import FakeRelay
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

USERNAME = "tester@example.com"
PASSWORD = "made-up-Secret-42"  # not a real credential: the fake relay checks it

#: Anything shaped like an e-mail address (a Message-ID is one too).
ADDRESS = re.compile(r"[^\s@<>\"']+@[^\s@<>\"']+")


@dataclass
class Otel:
    """What the library recorded: finished spans and collected metric points."""

    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider

    def spans(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.exporter.get_finished_spans() if name is None or s.name == name]

    def points(self) -> dict[str, list[Any]]:
        """``{metric name: [data point, ...]}`` of one collection."""
        found: dict[str, list[Any]] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    found.setdefault(metric.name, []).extend(metric.data.data_points)
        return found

    def total(self, name: str, **attributes: Any) -> float:
        """The sum of a counter's points whose attributes include ``attributes``."""
        return sum(p.value for p in self.points().get(name, [])
                   if all(p.attributes.get(k) == v for k, v in attributes.items()))


def start(record_addresses: bool = False) -> Otel:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    assert hooks.configure(tracer_provider=tracer_provider, meter_provider=MeterProvider(metric_readers=[reader]),
                           record_addresses=record_addresses)
    return Otel(exporter, reader, tracer_provider)


@pytest.fixture
def otel(monkeypatch: pytest.MonkeyPatch) -> Otel:
    monkeypatch.setattr(hooks, "_instruments", hooks._UNSET)  # restored after the test
    return start()


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD) as server:
        yield server
