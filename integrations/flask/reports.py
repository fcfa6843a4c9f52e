"""The report as a mountable, read-only Flask blueprint: ``/`` (HTML), ``/summary.json``,
``/recipients.json`` and ``/recipients.csv`` (streamed).

It has no authentication of its own and shows every recipient address: register it behind the
application's own login, never publicly::

    bp = acumbamail_reports_blueprint(store)
    bp.before_request(require_staff)          # your check: return a 401/403 or redirect
    app.register_blueprint(bp, url_prefix="/admin/mail-reports")
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from acumbamail_smtp.reports import DEFAULT_ROWS, ENDPOINTS, Answer, Endpoint, StoreSource, answer
from flask import Blueprint, Response, jsonify, request, stream_with_context


def acumbamail_reports_blueprint(store: StoreSource, *, name: str = "acumbamail_reports",
                                 rows: int = DEFAULT_ROWS) -> Blueprint:
    """A blueprint serving the report over ``store`` (an EventStore, or a function returning one);
    ``rows``: recipient rows embedded in the HTML page."""
    blueprint = Blueprint(name, __name__)
    for route, suffix, endpoint in ENDPOINTS:
        blueprint.add_url_rule(f"/{route}", _ENDPOINT_NAMES[suffix], _view(store, endpoint, rows))
    return blueprint


#: The blueprint's endpoint names (``url_for("acumbamail_reports.page")``), as they always were.
_ENDPOINT_NAMES = {"": "page", "_summary": "summary_json", "_recipients": "recipients_json",
                   "_csv": "recipients_export"}


def _view(store: StoreSource, endpoint: Endpoint, rows: int) -> Callable[[], Any]:
    def view() -> Any:
        return _response(answer(endpoint, store, request.args.to_dict(), rows=rows))

    return view


def _response(result: Answer) -> Response:
    if isinstance(result.body, dict):
        response = jsonify(result.body)
        response.status_code = result.status
    elif isinstance(result.body, str):
        response = Response(result.body, status=result.status, mimetype="text/html")
    else:
        response = Response(stream_with_context(result.body), status=result.status,
                            mimetype=result.content_type)
    response.headers.update(result.headers)
    return response


__all__ = ["acumbamail_reports_blueprint"]
