"""The health endpoint: the core's :func:`~acumbamail_smtp.health` for the project's relay
settings and event store, as JSON (200 healthy, 503 failing). ``?relay=0`` skips the relay check
(which connects and authenticates) for a cheap liveness probe."""

from __future__ import annotations

from acumbamail_smtp.healthcheck import health
from django.http import HttpRequest, JsonResponse

from . import conf


def health_view(request: HttpRequest) -> JsonResponse:
    """Answer the health of sending (relay) and tracking (store, outbox)."""
    report = health(conf.relay_config({}), conf.event_store(), relay=request.GET.get("relay") != "0")
    return JsonResponse(report.as_dict(), status=report.status)
