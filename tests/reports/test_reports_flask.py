"""The Flask blueprint, mounted in a tiny app that protects it with its own check."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore
from acumbamail_smtp.integrations.flask.reports import acumbamail_reports_blueprint
from flask import Flask, Response, request

from tests.reports.web_checks import check_views

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:made-up-pass").decode()}


@pytest.fixture
def client(store: SQLiteEventStore) -> Any:
    app = Flask(__name__)
    blueprint = acumbamail_reports_blueprint(store)

    @blueprint.before_request
    def staff_only() -> Response | None:
        if request.headers.get("Authorization") != AUTH["Authorization"]:
            return Response("login required", 401, {"WWW-Authenticate": "Basic"})
        return None

    app.register_blueprint(blueprint, url_prefix="/admin/mail")
    return app.test_client()


def test_the_views(client: Any) -> None:
    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        response = client.get(path, headers=AUTH)
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.get_data()

    check_views(get, "/admin/mail/")


def test_the_application_protects_it(client: Any) -> None:
    for path in ("/admin/mail/", "/admin/mail/summary.json", "/admin/mail/recipients.csv"):
        response = client.get(path)
        assert response.status_code == 401
        assert b"example.org" not in response.get_data()


def test_the_csv_is_streamed(client: Any) -> None:
    response = client.get("/admin/mail/recipients.csv", headers=AUTH)
    assert response.is_streamed
