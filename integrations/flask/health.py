"""The health endpoint: ``app.register_blueprint(acumbamail_health_blueprint(), url_prefix=...)``
serves ``GET /health``, the core's :func:`~acumbamail_smtp.health` for the app's relay settings
and store (200 or 503); ``?relay=0`` skips the relay check (which connects and authenticates)."""

from __future__ import annotations

from acumbamail_smtp.healthcheck import health
from flask import Blueprint, Flask, Response, current_app, jsonify, request

from .extension import EXTENSION_KEY, _State


def health_endpoint() -> Response:
    """The health of sending and tracking for the current app, as JSON."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state: _State | None = app.extensions.get(EXTENSION_KEY)
    if state is None:
        raise RuntimeError(f"the Flask app {app.name!r} was not set up for acumbamail-smtp: "
                           "call acumbamail.init_app(app) (or Acumbamail(app)) first")
    report = health(state.settings(app).relay, state.store(app), relay=request.args.get("relay") != "0")
    response = jsonify(report.as_dict())
    response.status_code = report.status
    return response


def acumbamail_health_blueprint(name: str = "acumbamail_health") -> Blueprint:
    """A blueprint with ``GET /health`` (mount it under any prefix)."""
    blueprint = Blueprint(name, __name__)
    blueprint.add_url_rule("/health", "health", health_endpoint, methods=["GET"])
    return blueprint
