"""The hooks the mailers, the webhook receiver and the outbox call; each is a no-op (one check)
when OpenTelemetry is off, and :mod:`.otel` (so ``opentelemetry``) is imported only on first use
and only when installed.

On by default when ``opentelemetry-api`` is importable, with the application's global tracer
and meter providers; :func:`configure` chooses other providers, opts in to addresses, or turns
it off.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import RelayConfig
    from ..events import Event
    from ..message.model import PreparedMessage
    from ..result import SendResult
    from .otel import Instruments

Trace = Callable[[str, object], None]

_UNSET: Any = object()
#: The instruments in use; None when OpenTelemetry is off or missing, _UNSET until first asked.
_instruments: Instruments | None = _UNSET


class _Null:
    """The scope every hook returns when telemetry is off: a context manager that records nothing."""

    def __enter__(self) -> _Null:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        return None

    def parsed(self, events: Sequence[Event]) -> None:
        """Nothing to count."""

    def stored(self, seconds: float) -> None:
        """Nothing to time."""

    def answered(self, status: int, new: Sequence[Event]) -> None:
        """Nothing to count."""

    def done(self, sent: int, failed: int = 0) -> None:
        """Nothing to record."""


_NULL = _Null()


def _build(tracer_provider: Any, meter_provider: Any, record_addresses: bool) -> Instruments | None:
    """The instruments, or None when ``opentelemetry-api`` is not installed."""
    try:
        from . import otel
    except ImportError:
        return None
    return otel.Instruments(tracer_provider, meter_provider, record_addresses=record_addresses)


def active() -> Instruments | None:
    """The instruments in use, built (from the global providers) on the first call."""
    global _instruments
    if _instruments is _UNSET:
        _instruments = _build(None, None, False)
    return _instruments


def configure(*, tracer_provider: Any = None, meter_provider: Any = None, record_addresses: bool = False,
              enabled: bool = True) -> bool:
    """Use these OpenTelemetry providers (None: the global ones); ``record_addresses`` puts the
    sender, the recipients, the Message-ID and error texts on spans; ``enabled=False`` turns every
    hook off. Returns whether telemetry is now on (False without ``opentelemetry-api``)."""
    global _instruments
    _instruments = _build(tracer_provider, meter_provider, record_addresses) if enabled else None
    return _instruments is not None


def enabled() -> bool:
    """Whether the hooks record anything (OpenTelemetry installed and not turned off)."""
    return active() is not None


# -- sends (called by the mailer policy) ----------------------------------------------------------


def send_span(prepared: PreparedMessage) -> contextlib.AbstractContextManager[object]:
    """The span of one send (retries included), current for the ``with`` block."""
    inst = _instruments if _instruments is not _UNSET else active()
    if inst is None or not (inst.live or inst.recording()):
        return _NULL
    return inst.send_scope(prepared)


def _scope() -> Any:
    """The running send's scope, or None (telemetry off or not recording, or outside a send)."""
    inst = _instruments
    if inst is None or inst is _UNSET:
        return None
    return inst.running()


class SendHandle(Protocol):
    """The telemetry of one send that is not the current one (a message of a pipelined stream,
    several of which are on the wire at once): the same span and counts as :func:`send_span`."""

    def finish(self, result: SendResult) -> None: ...

    def retried(self, attempt: int, delay: float, reason: str) -> None: ...

    def tried(self, commands: int) -> None: ...

    def end(self, exc: BaseException | None) -> None: ...


class _NoSend:
    """The handle when telemetry is off: records nothing."""

    def finish(self, result: SendResult) -> None:
        """Nothing to count."""

    def retried(self, attempt: int, delay: float, reason: str) -> None:
        """Nothing to count."""

    def tried(self, commands: int) -> None:
        """Nothing to record."""

    def end(self, exc: BaseException | None) -> None:
        """Nothing to end."""


NO_SEND: SendHandle = _NoSend()


def send_handle(prepared: PreparedMessage) -> SendHandle:
    """The span of one send in a pipelined stream, started now, ended by ``end()``; never current
    (its parent is the context current now, e.g. an outbox drain's span)."""
    inst = _instruments if _instruments is not _UNSET else active()
    if inst is None or not (inst.live or inst.recording()):
        return NO_SEND
    return inst.send_handle(prepared)


def emit_pending() -> None:
    """Make the spans of the pipelined sends that have ended: the connection calls this right
    after each write, so the SDK's work overlaps the wait for the relay's reply."""
    inst = _instruments
    if inst is not None and inst is not _UNSET and inst.pending:
        inst.emit_pending()


def batch_over() -> None:
    """A batch call (``send_many``, ``iter_send``, a drain's sends) is over: no span is left
    pending, and the events of a connection no message of it carried are dropped."""
    inst = _instruments
    if inst is not None and inst is not _UNSET:
        inst.batch_over()


def retry_reason(outcome: object) -> str:
    """How a retry's cause is named on the span: ``deferred`` or the error's type."""
    return "deferred" if type(outcome).__name__ == "SendResult" else type(outcome).__name__


def finished(result: SendResult) -> None:
    """The running send's result: counts and reply on its span, the message counted."""
    scope = _scope()
    if scope is not None:
        scope.finish(result)


def retried(attempt: int, delay: float, outcome: object) -> None:
    """Try ``attempt`` of the running send is repeated in ``delay`` seconds after ``outcome``."""
    scope = _scope()
    if scope is not None:
        scope.retried(attempt, delay, retry_reason(outcome))


def opened(config: RelayConfig) -> None:
    """A connection to the relay was opened (counted; events on the running send's span)."""
    inst = _instruments if _instruments is not _UNSET else active()
    if inst is not None and (inst.live or inst.recording()):
        inst.opened(config)


def exchange_trace(base: Trace | None) -> Trace | None:
    """``base`` (the DEBUG transcript or None), extended to put the envelope write of the
    exchange on the running send's span when that span is recorded."""
    scope = _scope()
    if scope is None or not scope.recording:
        return base
    if base is None:
        exchange: Trace = scope.exchange
        return exchange

    def both(label: str, value: object) -> None:
        if base is not None:
            base(label, value)
        scope.exchange(label, value)

    return both


# -- webhooks and the outbox ----------------------------------------------------------------------


def webhook_span() -> Any:
    """The span of one webhook post; its ``parsed``, ``stored`` and ``answered`` record the post."""
    inst = _instruments if _instruments is not _UNSET else active()
    if inst is None or not (inst.live or inst.recording()):
        return _NULL
    return inst.webhook_scope()


def drain_span(batch_size: int) -> Any:
    """The span of one outbox drain batch of ``batch_size`` messages (``done(sent, failed)``
    records how it went); the sends inside are its children."""
    inst = active()
    if inst is None or not (inst.live or inst.recording()):
        return _NULL
    return inst.drain_scope(batch_size)


def observe_outbox(read: Callable[[], tuple[int, float | None]]) -> bool:
    """Report the outbox as observable gauges: ``read()`` returns (queued messages, age of the
    oldest in seconds or None), called at each collection. False when telemetry is off."""
    inst = active()
    if inst is None:
        return False
    inst.observe_outbox(read)
    return True


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, to store with a queued message (None when
    telemetry is off or no span is recording)."""
    if active() is None:
        return None
    from .otel import traceparent

    return traceparent()


def attach(parent: str | None) -> contextlib.AbstractContextManager[object]:
    """Make a stored ``traceparent`` the current context for the ``with`` block, so the worker's
    send spans continue the trace of the request that queued the message."""
    if not parent or active() is None:
        return _NULL
    from .otel import Attached

    return Attached(parent)
