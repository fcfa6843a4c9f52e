"""The report as a mountable, read-only FastAPI router: ``/`` (HTML), ``/summary.json``,
``/recipients.json`` and ``/recipients.csv`` (streamed).

It has no authentication of its own and shows every recipient address: include it behind the
application's own authentication, never publicly::

    app.include_router(reports_router(store), prefix="/admin/mail-reports",
                       dependencies=[Depends(require_staff)])

The endpoints are plain functions, so FastAPI runs the (blocking) store queries in its thread pool.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from acumbamail_smtp.reports import DEFAULT_ROWS, ENDPOINTS, Answer, Endpoint, StoreSource, answer
from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse


def reports_router(store: StoreSource, *, rows: int = DEFAULT_ROWS,
                   dependencies: Sequence[Depends] | None = None) -> APIRouter:
    """A router serving the report over ``store`` (an EventStore, or a function returning one);
    ``dependencies`` (e.g. your authentication) apply to every route."""
    router = APIRouter(dependencies=list(dependencies or []), include_in_schema=False)
    for route, suffix, endpoint in ENDPOINTS:
        router.add_api_route(f"/{route}", _view(store, endpoint, rows), methods=["GET"],
                             name=f"acumbamail_reports{suffix}")
    return router


def _view(store: StoreSource, endpoint: Endpoint, rows: int) -> Callable[[Request], Response]:
    def view(request: Request) -> Response:
        return _response(answer(endpoint, store, dict(request.query_params), rows=rows))

    return view


def _response(result: Answer) -> Response:
    if isinstance(result.body, dict):
        return JSONResponse(result.body, status_code=result.status, headers=result.headers)
    if isinstance(result.body, str):
        return HTMLResponse(result.body, status_code=result.status, headers=result.headers)
    return StreamingResponse(result.body, status_code=result.status, media_type=result.content_type,
                             headers=result.headers)


__all__ = ["reports_router"]
