"""The span and counts of one send, in its two shapes.

- :class:`SendScope`: a ``send()``, whose span is current for the whole send (the connection's
  events and any child span land on it).
- :class:`DetachedSend`: one message of a pipelined ``send_many``, ``iter_send`` or outbox drain,
  several of which are on the wire at once. Its span is never current, so nothing needs it before
  the send ends: its start, envelope events, retries and result are kept in plain Python as they
  happen, and the SDK span (with those times) and the duration are made by :meth:`~DetachedSend.emit`.
  The connection runs that right after each write, while the relay works on it, so the SDK's cost
  overlaps the wait for the reply instead of adding to it; every batch call runs it once more
  before it returns.

Both put the same attributes and events on the same span name, and count the same metrics.
"""

from __future__ import annotations

import logging
from collections import deque
from contextvars import ContextVar, Token
from time import time_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from .names import CATEGORY, REFUSED, SEND_SPAN, SENT, SUPPRESSED

if TYPE_CHECKING:
    from ..message.model import PreparedMessage
    from ..result import SendResult

logger = logging.getLogger("acumbamail_smtp.telemetry")

Attributes = dict[str, Any]
#: Ended pipelined sends kept before their spans are made regardless of the connection's waits.
PENDING_MAX = 64

#: An event kept for a span made later: its name, attributes and time (ns since the epoch).
Kept = tuple[str, Attributes, int]

#: The send scope of the running ``send()`` (this task or thread), for the policy's hooks.
CURRENT: ContextVar[SendScope | None] = ContextVar("acumbamail_smtp_send_scope", default=None)
#: The connect/TLS/AUTH events of a connection a pipelined stream of this task or thread just
#: opened, for the span of the first message that goes on the wire after it.
OPENED: ContextVar[list[Kept] | None] = ContextVar("acumbamail_smtp_opened", default=None)


class Recorder(Protocol):
    """What a send's telemetry needs of :class:`~.otel.Instruments`."""

    record_addresses: bool
    tracer: trace.Tracer
    duration: metrics.Histogram
    failed: metrics.Counter
    retries: metrics.Counter
    pending: deque[DetachedSend]
    exemplar_context: bool

    def labels(self, category: str | None, status: str | None = None) -> Attributes: ...

    def tally(self, name: str, category: str | None) -> None: ...

    def emit_pending(self) -> None: ...


def opening_attributes(inst: Recorder, prepared: PreparedMessage) -> Attributes:
    """The attributes a send's span starts with: recipients and category (addresses only with
    ``record_addresses``)."""
    attributes: Attributes = {"acumbamail_smtp.recipients": len(prepared.recipients)}
    if prepared.category:
        attributes[CATEGORY] = prepared.category
    if inst.record_addresses:
        attributes["acumbamail_smtp.message_id"] = prepared.message_id
        attributes["acumbamail_smtp.sender"] = prepared.envelope_from
        attributes["acumbamail_smtp.recipient_addresses"] = list(prepared.recipients)
    return attributes


def closing_attributes(attributes: Attributes, result: SendResult | None, retries: int) -> Attributes:
    """``attributes`` with what the send came to: retries, status, counts, reply code, queue id."""
    attributes["acumbamail_smtp.retries"] = retries
    if result is not None:
        attributes["acumbamail_smtp.status"] = result.status
        attributes["acumbamail_smtp.accepted"] = len(result.accepted)
        attributes["acumbamail_smtp.refused"] = len(result.refused)
        attributes["acumbamail_smtp.suppressed"] = len(result.suppressed)
        if result.reply is not None:
            attributes["smtp.reply.code"] = result.reply.code
        if queue_id := result.queue_id:
            attributes["acumbamail_smtp.queue_id"] = queue_id
    return attributes


def count(inst: Recorder, result: SendResult, category: str | None) -> None:
    """Count a message's result: sent or refused, and suppressed when someone was."""
    inst.tally(REFUSED if result.status == "refused" else SENT, category)
    if result.suppressed:
        inst.tally(SUPPRESSED, category)


def count_failed(inst: Recorder, category: str | None, exc: BaseException) -> None:
    """Count a send that raised, by category and the error's type."""
    inst.failed.add(1, {**inst.labels(category), "error.type": type(exc).__name__})


def retry_attributes(attempt: int, delay: float, reason: str) -> Attributes:
    """The attributes of a ``retry`` event: which try comes, after how long, and why."""
    return {"acumbamail_smtp.attempt": attempt, "acumbamail_smtp.delay": delay,
            "acumbamail_smtp.reason": reason}


def mark_failed(span: Span, exc: BaseException, record_addresses: bool, timestamp: int | None = None) -> None:
    """Mark ``span`` failed by ``exc``: the error's type always, its text only with
    ``record_addresses`` (texts name recipients and usernames)."""
    attributes: Attributes = {"exception.type": type(exc).__name__}
    if record_addresses:
        attributes["exception.message"] = str(exc)
    span.add_event("exception", attributes, timestamp)
    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))


class SendScope:
    """The span of one ``send()``, current for its ``with`` block.

    Built for the SDK's per-span floor: one clock read at each end (shared by the span and the
    duration histogram), the closing attributes in one call, one event for the envelope, and no
    attribute or event work at all when the span is not recorded (sampled out)."""

    def __init__(self, instruments: Recorder, prepared: PreparedMessage) -> None:
        self.instruments = instruments
        self._start = start = time_ns()
        self.span = span = instruments.tracer.start_span(SEND_SPAN, kind=SpanKind.CLIENT, start_time=start,
                                                         attributes=opening_attributes(instruments, prepared))
        #: Whether the span is recorded: when not, only the metrics are kept.
        self.recording = span.is_recording()
        self.category = prepared.category
        self.retries = 0
        self.result: SendResult | None = None
        self._token: object = None
        self._current: Token[SendScope | None] | None = None

    def __enter__(self) -> SendScope:
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        self._current = CURRENT.set(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """The span's closing attributes in one call; one clock read ends the span and times the send."""
        if self._current is not None:
            CURRENT.reset(self._current)
        inst, result, span = self.instruments, self.result, self.span
        if exc is not None:
            count_failed(inst, self.category, exc)
        if self.recording:
            span.set_attributes(closing_attributes({}, result, self.retries))
            if exc is not None:
                mark_failed(span, exc, inst.record_addresses)
        end = time_ns()
        status = "failed" if result is None else result.status
        # Recorded while the span is still current, so an exemplar points at this send.
        inst.duration.record((end - self._start) / 1e9, inst.labels(self.category, status))
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
        try:
            span.end(end_time=end)
        except Exception:  # a span processor's fault: the message is sent, the send must not fail
            logger.exception("a send's span could not be ended")

    def finish(self, result: SendResult) -> None:
        """Keep the result for the span (put on it when it ends) and count the message."""
        self.result = result
        count(self.instruments, result, self.category)

    def retried(self, attempt: int, delay: float, reason: str) -> None:
        """One more try is coming: an event on the span and the retries counter."""
        self.retries += 1
        if self.recording:
            self.span.add_event("retry", retry_attributes(attempt, delay, reason))
        self.instruments.retries.add(1, self.instruments.labels(self.category))

    def exchange(self, label: str, value: object) -> None:
        """One reply or write of the SMTP exchange (never the data): the envelope (the MAIL write;
        with PIPELINING also every RCPT and DATA) is the one event of each try's exchange, with its
        command count; every other line costs a comparison or two."""
        if label == "send:" and isinstance(value, bytes) and value.startswith(b"MAIL"):
            self.span.add_event("smtp.envelope", {"smtp.commands": value.count(b"\r\n")})


class DetachedSend:
    """One pipelined send's telemetry: the counters at once, the span and the duration when
    :meth:`emit` runs (see the module's text). ``end()`` closes it, as leaving a ``with`` block
    closes a :class:`SendScope`."""

    __slots__ = ("_events", "_parent", "_start", "attributes", "category", "end_time", "error",
                 "instruments", "result", "retries")

    def __init__(self, instruments: Recorder, prepared: PreparedMessage) -> None:
        self.instruments = instruments
        self._parent = otel_context.get_current()  # e.g. an outbox drain's span, or a stored parent
        self._start = time_ns()
        self.attributes = opening_attributes(instruments, prepared)
        self.category = prepared.category
        self._events: list[Kept] = []
        self.retries = 0
        self.result: SendResult | None = None
        self.error: BaseException | None = None
        self.end_time = 0

    def tried(self, commands: int) -> None:
        """The message goes on the wire (again): its envelope of ``commands`` commands, after the
        events of the connection opened for it, if one was (its span then starts with those)."""
        events = self._events
        if (opened := OPENED.get()) is not None:
            OPENED.set(None)
            events += opened
            self._start = min(self._start, opened[0][2])
        events.append(("smtp.envelope", {"smtp.commands": commands}, time_ns()))

    def retried(self, attempt: int, delay: float, reason: str) -> None:
        """One more try is coming: an event for the span, and the retries counter."""
        self.retries += 1
        self._events.append(("retry", retry_attributes(attempt, delay, reason), time_ns()))
        self.instruments.retries.add(1, self.instruments.labels(self.category))

    def finish(self, result: SendResult) -> None:
        """Keep the result for the span and count the message."""
        self.result = result
        count(self.instruments, result, self.category)

    def end(self, exc: BaseException | None) -> None:
        """The send is over (``exc``: how it failed): counted now, its span made at the next
        :meth:`~.otel.Instruments.emit_pending`."""
        self.end_time = time_ns()
        inst = self.instruments
        if exc is not None:
            self.error = exc
            count_failed(inst, self.category, exc)
        inst.pending.append(self)
        if len(inst.pending) > PENDING_MAX:  # a stream that never waits (lockstep): no backlog
            inst.emit_pending()

    def emit(self) -> None:
        """Make the span, with the recorded times, and record the duration."""
        inst, result, error = self.instruments, self.result, self.error
        span = inst.tracer.start_span(SEND_SPAN, self._parent, SpanKind.CLIENT,
                                      closing_attributes(self.attributes, result, self.retries),
                                      start_time=self._start)
        if span.is_recording():
            for name, attributes, timestamp in self._events:
                span.add_event(name, attributes, timestamp)
            if error is not None:
                mark_failed(span, error, inst.record_addresses, self.end_time)
        seconds = (self.end_time - self._start) / 1e9
        labels = inst.labels(self.category, "failed" if result is None else result.status)
        if inst.exemplar_context:  # the duration's exemplar leads to this span
            inst.duration.record(seconds, labels, context=trace.set_span_in_context(span))
        else:  # pragma: no cover - opentelemetry-api < 1.27 takes no context
            inst.duration.record(seconds, labels)
        span.end(self.end_time)
