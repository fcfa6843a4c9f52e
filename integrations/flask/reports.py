"""The report as a mountable, read-only Flask blueprint: ``/`` (HTML), ``/summary.json``,
``/recipients.json`` and ``/recipients.csv`` (streamed).

It has no authentication of its own and shows every recipient address: register it behind the
application's own login, never publicly::

    bp = acumbamail_reports_blueprint(store)
    bp.before_request(require_staff)          # your check: return a 401/403 or redirect
    app.register_blueprint(bp, url_prefix="/admin/mail-reports")
"""

from __future__ import annotations

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
from flask import Blueprint, Response, jsonify, request, stream_with_context


def acumbamail_reports_blueprint(store: StoreSource, *, name: str = "acumbamail_reports",
                                 rows: int = 500) -> Blueprint:
    """A blueprint serving the report over ``store`` (an EventStore, or a function returning one);
    ``rows``: recipient rows embedded in the HTML page."""
    blueprint = Blueprint(name, __name__)

    @blueprint.get("/")
    def page() -> Any:
        flt = ReportFilter.from_query(request.args)
        html = render_report(resolve_store(store), flt, rows=rows, links=served_links(flt))
        return Response(html, mimetype="text/html")

    @blueprint.get("/summary.json")
    def summary_json() -> Any:
        return jsonify(report_document(resolve_store(store), ReportFilter.from_query(request.args)))

    @blueprint.get("/recipients.json")
    def recipients_json() -> Any:
        return jsonify(recipients_document(resolve_store(store), request.args))

    @blueprint.get("/recipients.csv")
    def recipients_export() -> Any:
        flt = ReportFilter.from_query(request.args)
        chunks = recipients_csv(resolve_store(store), flt.since, flt.until, flt.category, flt.status)
        return Response(stream_with_context(chunks), mimetype="text/csv",
                        headers={"Content-Disposition": f'attachment; filename="{csv_filename(flt)}"'})

    @blueprint.errorhandler(ConfigError)
    def bad_request(exc: ConfigError) -> Any:
        return jsonify({"error": str(exc), "field": exc.field}), 400

    @blueprint.after_request
    def private(response: Response) -> Response:
        response.headers.update(RESPONSE_HEADERS)
        return response

    return blueprint


__all__ = ["acumbamail_reports_blueprint"]
