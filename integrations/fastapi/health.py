"""The health endpoint as an ``APIRouter``: ``app.include_router(health_router(), prefix=...)``
serves ``GET /health``, the core's :func:`~acumbamail_smtp.health` for the lifespan's mailer
and store (200 or 503), run in a thread (the relay check blocks); ``?relay=0`` skips the relay."""

from __future__ import annotations

import asyncio

from acumbamail_smtp.healthcheck import health
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from .dependencies import get_event_store, get_mailer


def health_router() -> APIRouter:
    """A router with ``GET /health``."""
    router = APIRouter(tags=["acumbamail"])

    @router.get("/health", summary="Health of sending (relay) and tracking (store, outbox)")
    async def acumbamail_health(request: Request, relay: bool = True) -> JSONResponse:
        mailer = await get_mailer(request)
        store = await get_event_store(request)
        report = await asyncio.to_thread(health, mailer.config, store, relay=relay)
        return JSONResponse(report.as_dict(), status_code=report.status)

    return router
