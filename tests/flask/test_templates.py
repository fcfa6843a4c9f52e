"""send_template: the core renderer with the app's template folders and Jinja globals."""

from __future__ import annotations

from pathlib import Path

import pytest
from acumbamail_smtp import ConfigError, InvalidMessage, TemplateError
from acumbamail_smtp.integrations.flask import Acumbamail
from acumbamail_smtp.testserver import FakeRelay
from flask import Blueprint, Flask

from .conftest import relay_settings


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def templated_app(tmp_path: Path, relay: FakeRelay) -> Flask:
    write(tmp_path / "templates" / "welcome.html",
          "{% block subject %}Welcome to {{ config['SHOP_NAME'] }}, {{ name }}{% endblock %}"
          "{% block html %}<p>Hello {{ name }} &amp; co</p>"
          "<p><a href=\"{{ url_for('index', _external=True) }}\">Shop</a></p>{% endblock %}")
    write(tmp_path / "shop_templates" / "receipt.html",
          "{% block subject %}Receipt {{ number }}{% endblock %}{% block html %}<p>Total {{ total }}</p>"
          "{% endblock %}{% block text %}Total: {{ total }}{% endblock %}")
    write(tmp_path / "mail_templates" / "extra.html",
          "{% block subject %}Extra{% endblock %}{% block html %}<p>{{ word }}</p>{% endblock %}")
    app = Flask("templated_app", root_path=str(tmp_path), instance_path=str(tmp_path / "instance"))
    app.config.update(relay_settings(relay), SHOP_NAME="Tienda", SERVER_NAME="shop.example.com",
                      ACUMBAMAIL_TEMPLATE_FOLDERS=["mail_templates"])
    app.add_url_rule("/", "index", lambda: "home")
    app.register_blueprint(Blueprint("shop", __name__, template_folder=str(tmp_path / "shop_templates")))
    Acumbamail(app)
    return app


def extension(app: Flask) -> Acumbamail:
    ext = app.extensions["acumbamail"].extension
    assert isinstance(ext, Acumbamail)
    return ext


def test_app_template_with_flask_globals(templated_app: Flask, relay: FakeRelay) -> None:
    mail = extension(templated_app)
    with templated_app.app_context():
        result = mail.send_template("welcome", {"name": "Ana <3"}, to="ana@example.net", category="SIGNUP")
    [received] = relay.wait_for(1)
    assert result.category == "SIGNUP" == received.category
    assert received.subject == "Welcome to Tienda, Ana <3"
    assert received.html is not None and "Hello Ana &lt;3 &amp; co" in received.html
    assert 'href="http://shop.example.com/"' in received.html
    assert received.text is not None and "Hello Ana <3 & co" in received.text


def test_blueprint_and_configured_folders_and_starters(templated_app: Flask, relay: FakeRelay) -> None:
    mail = extension(templated_app)
    with templated_app.app_context():
        mail.send_template("receipt", {"number": 7, "total": "9.99 EUR"}, to="a@example.net")
        mail.send_template("extra", {"word": "configured"}, to="a@example.net", cc=["c@example.net"])
        mail.send_template("notification", {"brand_name": "Tienda", "title": "Heads up",
                                            "message": "Starter templates work."}, to="a@example.net")
    receipt, extra, starter = relay.wait_for(3)
    assert receipt.subject == "Receipt 7" and receipt.text.strip() == "Total: 9.99 EUR"
    assert extra.html is not None and "configured" in extra.html
    assert extra.rcpt_tos == ["a@example.net", "c@example.net"]
    assert starter.subject == "Heads up"


def test_template_errors_are_raised_before_sending(templated_app: Flask, relay: FakeRelay) -> None:
    mail = extension(templated_app)
    with templated_app.app_context():
        with pytest.raises(TemplateError, match="name"):
            mail.send_template("welcome", {}, to="ana@example.net")
        with pytest.raises(TemplateError, match="missing_one"):
            mail.send_template("missing_one", {}, to="ana@example.net")
        with pytest.raises(InvalidMessage, match="subject"):
            mail.send_template("extra", {"word": "x"}, to="ana@example.net", subject="mine")
    assert relay.sessions == 0


def test_a_template_folder_that_does_not_exist_is_named(templated_app: Flask) -> None:
    templated_app.config["ACUMBAMAIL_TEMPLATE_FOLDERS"] = "nowhere"
    with templated_app.app_context(), pytest.raises(ConfigError, match="ACUMBAMAIL_TEMPLATE_FOLDERS"):
        extension(templated_app).send_template("extra", {"word": "x"}, to="ana@example.net")
