"""The extension's report blueprint reads the app's own store, behind the app's authentication."""

from __future__ import annotations

from acumbamail_smtp.integrations.flask import Acumbamail, Message
from flask import Flask, abort, request

from .conftest import relay_settings


def test_report_blueprint_over_the_apps_store(make_app, relay) -> None:  # type: ignore[no-untyped-def]
    app: Flask = make_app(**relay_settings(relay))
    mail = Acumbamail(app)
    reports = mail.reports_blueprint()

    @reports.before_request
    def staff_only() -> None:
        if request.headers.get("X-Staff") != "yes":
            abort(403)

    app.register_blueprint(reports, url_prefix="/admin/mail")
    with app.app_context():
        mail.send(Message("Receipt", recipients=["ana@example.org"], body="thanks", category="RECEIPT"))
    client = app.test_client()
    assert client.get("/admin/mail/summary.json").status_code == 403
    summary = client.get("/admin/mail/summary.json", headers={"X-Staff": "yes"})
    assert summary.status_code == 200
    assert summary.get_json()["summary"]["sent"] == 1
    page = client.get("/admin/mail/", headers={"X-Staff": "yes"})
    assert page.status_code == 200
    assert b"RECEIPT" in page.data
