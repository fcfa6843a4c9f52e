"""OpenTelemetry traces and metrics for sends, webhook posts and the outbox (``pip install
acumbamail-smtp[otel]``); without ``opentelemetry-api`` every hook is a no-op and nothing of it
is imported.

The mailers and the webhook receiver call the hooks of :mod:`.hooks`; an application only sets
up the OpenTelemetry SDK (or calls :func:`configure` with its own providers). The outbox calls
:func:`drain_span`, :func:`observe_outbox`, :func:`current_traceparent` and :func:`attach`.
"""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .hooks import attach as attach
    from .hooks import configure as configure
    from .hooks import current_traceparent as current_traceparent
    from .hooks import drain_span as drain_span
    from .hooks import enabled as enabled
    from .hooks import observe_outbox as observe_outbox
    from .hooks import send_span as send_span
    from .hooks import webhook_span as webhook_span

_NAMES = ("attach", "configure", "current_traceparent", "drain_span", "enabled", "observe_outbox",
          "send_span", "webhook_span")

__getattr__ = lazy_exports(__name__, dict.fromkeys(_NAMES, ".hooks"))

__all__ = sorted(_NAMES)
