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
from typing import Any

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.reports import (
    RESPONSE_HEADERS,
    ReportFilter,
    StoreSource,
    csv_filename,
    recipients_csv,
    recipients_document,
    render_report,
    report_document,
    resolve_store,
    served_links,
)
from fastapi import APIRouter, Request
from fastapi.params import Depends
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse


def reports_router(store: StoreSource, *, rows: int = 500,
                   dependencies: Sequence[Depends] | None = None) -> APIRouter:
    """A router serving the report over ``store`` (an EventStore, or a function returning one);
    ``dependencies`` (e.g. your authentication) apply to every route."""
    router = APIRouter(dependencies=list(dependencies or []), include_in_schema=False)

    def answer(build: Callable[[dict[str, str]], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                response = build(dict(request.query_params))
            except ConfigError as exc:
                response = JSONResponse({"error": str(exc), "field": exc.field}, status_code=400)
            response.headers.update(RESPONSE_HEADERS)
            return response

        return endpoint

    def page(query: dict[str, str]) -> Response:
        flt = ReportFilter.from_query(query)
        return HTMLResponse(render_report(resolve_store(store), flt, rows=rows, links=served_links(flt)))

    def summary_json(query: dict[str, str]) -> Response:
        return JSONResponse(report_document(resolve_store(store), ReportFilter.from_query(query)))

    def recipients_json(query: dict[str, str]) -> Response:
        return JSONResponse(recipients_document(resolve_store(store), query))

    def recipients_export(query: dict[str, str]) -> Response:
        flt = ReportFilter.from_query(query)
        chunks = recipients_csv(resolve_store(store), flt.since, flt.until, flt.category, flt.status)
        return StreamingResponse(chunks, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{csv_filename(flt)}"'})

    routes: list[tuple[str, str, Any]] = [
        ("/", "acumbamail_reports", page), ("/summary.json", "acumbamail_reports_summary", summary_json),
        ("/recipients.json", "acumbamail_reports_recipients", recipients_json),
        ("/recipients.csv", "acumbamail_reports_csv", recipients_export)]
    for path, name, build in routes:
        router.add_api_route(path, answer(build), methods=["GET"], name=name)
    return router


__all__ = ["reports_router"]
