"""The OpenTelemetry side of the hooks: imported only when ``opentelemetry-api`` is installed.

One :class:`Instruments` holds the tracer, the meter and every instrument; the scopes below open
and end the spans. No attribute holds an address, a Message-ID or an exception's text unless
``record_addresses`` is on (those texts name recipients and usernames).
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from time import time_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, NoOpMeterProvider, Observation
from opentelemetry.metrics import _internal as _metrics_internal
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .names import CATEGORY, REFUSED, SCOPE, SENT, SUPPRESSED, VERSION
from .sends import CURRENT, OPENED, DetachedSend, Kept, SendScope, mark_failed

if TYPE_CHECKING:
    from ..config import RelayConfig
    from ..events import Event
    from ..message.model import PreparedMessage

logger = logging.getLogger("acumbamail_smtp.telemetry")

_W3C = TraceContextTextMapPropagator()


Attributes = dict[str, Any]
OutboxReading = Callable[[], "tuple[int, float | None]"]

try:  # the API's stand-in until an SDK provider is set; private, so looked up defensively
    from opentelemetry.metrics._internal import _ProxyMeterProvider as _ProxyMeters
except ImportError:  # pragma: no cover - a later API without it: every provider counts as live
    _ProxyMeters = NoOpMeterProvider  # type: ignore[assignment,misc]

#: Providers that record nothing: the API's defaults before the application sets an SDK.
_QUIET = (trace.ProxyTracerProvider, trace.NoOpTracerProvider, _ProxyMeters, NoOpMeterProvider)


def _globals_unset() -> bool:
    """Whether neither global provider is set yet, read from the API's module globals (a
    function call and an environment lookup cheaper than ``get_*_provider``); False when a later
    API has no such globals, and the public check runs."""
    return (getattr(trace, "_TRACER_PROVIDER", 0) is None
            and getattr(_metrics_internal, "_METER_PROVIDER", 0) is None)


#: Bucket bounds for a duration in seconds (OpenTelemetry's HTTP-duration advice): the SDK's
#: default bounds (0, 5, 10, ... 10000) are meant for milliseconds and put every send in one bucket.
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


def _seconds_histogram(meter: metrics.Meter, name: str, description: str) -> metrics.Histogram:
    """A histogram of seconds with :data:`SECONDS_BUCKETS` (an API before 1.23 takes no advice:
    then the SDK's default bounds)."""
    try:
        return meter.create_histogram(name, "s", description,
                                      explicit_bucket_boundaries_advisory=list(SECONDS_BUCKETS))
    except TypeError:  # pragma: no cover - opentelemetry-api < 1.23
        return meter.create_histogram(name, "s", description)


#: Metric attribute sets kept per (category, status); beyond this many categories they are built per send.
_LABELS_KEPT = 512


class Instruments:
    """The tracer, the meter and the instruments, from the given providers (else the global ones)."""

    def __init__(self, tracer_provider: trace.TracerProvider | None,
                 meter_provider: metrics.MeterProvider | None, *, record_addresses: bool) -> None:
        self.record_addresses = record_addresses
        trace.get_tracer_provider(), metrics.get_meter_provider()  # sets those named by OTEL_PYTHON_*
        self._providers = (tracer_provider, meter_provider)
        #: True once a provider records; the global providers are set once, so it never goes back.
        self.live = False
        #: The running send's scope (or None), for the policy's hooks.
        self.running = CURRENT.get
        self._labels: dict[tuple[str | None, str | None], Attributes] = {}
        #: Pipelined sends that ended and whose span is not made yet (see :meth:`emit_pending`).
        self.pending: deque[DetachedSend] = deque()
        self.tracer = trace.get_tracer(SCOPE, VERSION, tracer_provider=tracer_provider)
        self.meter = meter = metrics.get_meter(SCOPE, VERSION, meter_provider=meter_provider)
        #: Messages sent, refused and suppressed by category: counted here (a dict increment per
        #: send), reported by observable counters at each collection instead of a counter add.
        self._tallies: dict[str, dict[str | None, int]] = {SENT: {}, REFUSED: {}, SUPPRESSED: {}}
        self._tally_lock = threading.Lock()
        for name, description in ((SENT, "Messages the relay accepted for at least one recipient"),
                                  (REFUSED, "Messages no recipient accepted (refused or all suppressed)"),
                                  (SUPPRESSED, "Messages with at least one suppressed recipient")):
            meter.create_observable_counter(name, [self._observer(name)], "{message}", description)
        self.failed = meter.create_counter("acumbamail_smtp.messages.failed", "{message}",
                                           "Sends that raised (after every retry), by error type")
        self.duration = _seconds_histogram(meter, "acumbamail_smtp.send.duration",
                                           "Time of one send, retries included")
        #: Whether the histogram takes the context its exemplar points at (opentelemetry-api 1.27+).
        self.exemplar_context = "context" in inspect.signature(self.duration.record).parameters
        self.connections = meter.create_counter("acumbamail_smtp.connections.opened", "{connection}",
                                                "Connections opened to the relay")
        self.retries = meter.create_counter("acumbamail_smtp.send.retries", "{retry}",
                                            "Tries repeated after a transient fault")
        self.webhook_events = meter.create_counter("acumbamail_smtp.webhook.events", "{event}",
                                                   "New webhook events stored, by type")
        self.webhook_refusals = meter.create_counter("acumbamail_smtp.webhook.refusals", "{request}",
                                                     "Webhook posts answered with an error, by reason")

    def tally(self, name: str, category: str | None) -> None:
        """One more message for the observable counter ``name``, under ``category``."""
        with self._tally_lock:
            counts = self._tallies[name]
            counts[category] = counts.get(category, 0) + 1

    def _observer(self, name: str) -> Callable[[CallbackOptions], Iterable[Observation]]:
        """The callback reporting the tallies of ``name`` (cumulative, as counters are)."""
        def observe(options: CallbackOptions) -> Iterable[Observation]:
            with self._tally_lock:
                counts = list(self._tallies[name].items())
            return [Observation(total, self.labels(category)) for category, total in counts]

        return observe

    def recording(self) -> bool:
        """Whether a tracer or meter provider records anything: False while both are the API's
        no-op or proxy ones (the hooks then skip all work), checked again each call until an SDK
        provider appears (``trace.set_tracer_provider`` after the first send)."""
        if not self.live:
            tracer_provider, meter_provider = self._providers
            if tracer_provider is None and meter_provider is None and _globals_unset():
                return False
            self.live = not (isinstance(tracer_provider or trace.get_tracer_provider(), _QUIET)
                             and isinstance(meter_provider or metrics.get_meter_provider(), _QUIET))
        return self.live

    def labels(self, category: str | None, status: str | None = None) -> Attributes:
        """The metric attributes of a message of ``category`` (and ``status``), built once and
        shared: the instruments only read them."""
        key = (category, status)
        found = self._labels.get(key)
        if found is None:
            found = {CATEGORY: category} if category else {}
            if status is not None:
                found["acumbamail_smtp.status"] = status
            if len(self._labels) < _LABELS_KEPT:
                self._labels[key] = found
        return found

    def send_scope(self, prepared: PreparedMessage) -> SendScope:
        """The scope of one send (see :class:`SendScope`)."""
        return SendScope(self, prepared)

    def send_handle(self, prepared: PreparedMessage) -> DetachedSend:
        """The record of one pipelined send (see :class:`~.sends.DetachedSend`)."""
        return DetachedSend(self, prepared)

    def emit_pending(self) -> None:
        """Make the spans of the pipelined sends that ended since the last call (any thread's).
        A failure of the SDK or of a span processor is logged, never raised into a send."""
        pending = self.pending
        while pending:
            try:
                pending.popleft().emit()
            except IndexError:  # another thread took the last one
                return
            except Exception:
                logger.exception("a send's span could not be recorded")

    def webhook_scope(self) -> WebhookScope:
        """The scope of one webhook post (see :class:`WebhookScope`)."""
        return WebhookScope(self)

    def drain_scope(self, batch_size: int) -> DrainScope:
        """The scope of one outbox drain batch (see :class:`DrainScope`)."""
        return DrainScope(self, batch_size)

    def opened(self, config: RelayConfig) -> None:
        """Count a new connection; its connect/TLS/AUTH events go on the running ``send()``'s span,
        else on the span of the first pipelined message it carries (see :data:`~.sends.OPENED`)."""
        security = {"acumbamail_smtp.security": config.security}
        self.connections.add(1, security)
        now = time_ns()
        events: list[Kept] = [("smtp.connect", security, now)]
        if config.encrypted:
            events.append(("smtp.tls", {}, now))
        if config.username and config.password:
            events.append(("smtp.auth", {}, now))
        scope = CURRENT.get()
        if scope is None:
            OPENED.set(events)
            return
        for name, attributes, timestamp in events:
            scope.span.add_event(name, attributes, timestamp)

    def batch_over(self) -> None:
        """See :func:`~.hooks.batch_over`."""
        if OPENED.get() is not None:
            OPENED.set(None)
        if self.pending:
            self.emit_pending()

    def observe_outbox(self, read: OutboxReading) -> None:
        """Observable gauges of the outbox: its depth and the age of its oldest queued message,
        from one ``read()`` per collection (the first gauge reads, the second takes that reading)."""
        kept: list[tuple[int, float | None] | None] = []

        def reading() -> tuple[int, float | None] | None:
            if kept:
                return kept.pop()
            try:
                got = read()
            except Exception:
                logger.exception("the outbox statistics could not be read for the metrics")
                got = None
            kept.append(got)
            return got

        def depth(options: CallbackOptions) -> Iterable[Observation]:
            got = reading()
            return [] if got is None else [Observation(got[0])]

        def oldest(options: CallbackOptions) -> Iterable[Observation]:
            got = reading()
            return [] if got is None or got[1] is None else [Observation(got[1])]

        self.meter.create_observable_gauge("acumbamail_smtp.outbox.depth", [depth], "{message}",
                                           "Messages queued in the outbox")
        self.meter.create_observable_gauge("acumbamail_smtp.outbox.oldest_age", [oldest], "s",
                                           "Age of the oldest queued message")


class _Scope:
    """A span made current for a ``with`` block; the exception that ends it marks it failed."""

    name = ""
    kind = SpanKind.INTERNAL

    def __init__(self, instruments: Instruments, attributes: Attributes) -> None:
        self.instruments = instruments
        self.span = instruments.tracer.start_span(self.name, kind=self.kind, attributes=attributes)
        self._token: object = None

    def __enter__(self) -> Any:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        if exc is not None:
            mark_failed(self.span, exc, self.instruments.record_addresses)
        self.span.end()


class WebhookScope(_Scope):
    """The span of one webhook post: event counts by type, store time, the answer's status."""

    name = "acumbamail_smtp.webhook"
    kind = SpanKind.SERVER

    def __init__(self, instruments: Instruments) -> None:
        super().__init__(instruments, {})

    def parsed(self, events: Sequence[Event]) -> None:
        """The posted events, counted by type on the span."""
        self.span.set_attribute("acumbamail_smtp.webhook.received", len(events))
        for kind, count in Counter(event.type.value for event in events).items():
            self.span.set_attribute(f"acumbamail_smtp.webhook.received.{kind}", count)

    def stored(self, seconds: float) -> None:
        """How long the store took (suppression and the one transaction)."""
        self.span.set_attribute("acumbamail_smtp.webhook.store_time", seconds)

    def answered(self, status: int, new: Sequence[Event]) -> None:
        """The answer: its status on the span; the new events or the refusal counted."""
        self.span.set_attribute("http.response.status_code", status)
        inst = self.instruments
        if status >= 400:
            inst.webhook_refusals.add(1, {"acumbamail_smtp.reason": REFUSALS.get(status, str(status))})
            if status >= 500:
                self.span.set_status(Status(StatusCode.ERROR, REFUSALS.get(status, str(status))))
        for kind, count in Counter(event.type.value for event in new).items():
            inst.webhook_events.add(count, {"acumbamail_smtp.event.type": kind})


#: The reason a webhook answer's status stands for (the refusals counter's attribute).
REFUSALS = {400: "bad_payload", 401: "unauthorized", 403: "forbidden", 413: "too_large",
            503: "store_unavailable"}


class DrainScope(_Scope):
    """The span of one outbox drain batch."""

    name = "acumbamail_smtp.outbox.drain"

    def __init__(self, instruments: Instruments, batch_size: int) -> None:
        super().__init__(instruments, {"acumbamail_smtp.outbox.batch_size": batch_size})

    def done(self, sent: int, failed: int = 0) -> None:
        """How the batch went: messages sent and failed."""
        self.span.set_attributes({"acumbamail_smtp.outbox.sent": sent,
                                  "acumbamail_smtp.outbox.failed": failed})


def traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, or None when there is no valid one."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier.get("traceparent")


class Attached:
    """Makes the context of a stored ``traceparent`` current for a ``with`` block."""

    def __init__(self, parent: str) -> None:
        self.context = _W3C.extract({"traceparent": parent})
        self._token: object = None

    def __enter__(self) -> None:
        self._token = otel_context.attach(self.context)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
