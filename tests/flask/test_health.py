"""The health blueprint of the Flask adapter, over Flask's test client, against the fake relay."""

from __future__ import annotations

from acumbamail_smtp.integrations.flask import acumbamail_health_blueprint
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask

from .conftest import PASSWORD


def test_health_blueprint_answers_each_check(app: Flask, relay: FakeRelay) -> None:
    app.register_blueprint(acumbamail_health_blueprint(), url_prefix="/acumbamail")
    client = app.test_client()
    response = client.get("/acumbamail/health")
    assert response.status_code == 200, response.get_json()
    assert set(response.get_json()["checks"]) == {"relay", "store", "outbox"}  # the SQLite store holds the outbox table
    relay.fail_auth()
    failing = client.get("/acumbamail/health")
    assert failing.status_code == 503
    assert failing.get_json()["checks"]["relay"]["ok"] is False
    assert PASSWORD not in failing.get_data(as_text=True)
    assert client.get("/acumbamail/health?relay=0").status_code == 200
