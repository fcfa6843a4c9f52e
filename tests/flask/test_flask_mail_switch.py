"""A typical Flask-Mail app works after changing only its import: run once with Flask-Mail itself
and once with ``from acumbamail_smtp.integrations.flask import Acumbamail as Mail, Message``, same
configuration, and both deliver the same message to the fake relay."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from acumbamail_smtp.testserver import FakeRelay
from acumbamail_smtp.testserver.records import ReceivedMessage

FLASK_MAIL_IMPORT = "from flask_mail import Mail, Message"
ACUMBAMAIL_IMPORT = "from acumbamail_smtp.integrations.flask import Acumbamail as Mail, Message"

#: A Flask-Mail app as its documentation writes one (app factory, a view that sends a message).
APP_SOURCE = '''\
from flask import Flask, request
{import_line}

mail = Mail()


def create_app(config):
    app = Flask(__name__)
    app.config.update(config)
    mail.init_app(app)

    @app.post("/signup")
    def signup():
        msg = Message("Welcome aboard", recipients=[request.form["email"]])
        msg.cc = ["team@example.com"]
        msg.bcc = ["audit@example.com"]
        msg.reply_to = "help@example.com"
        msg.body = "Thanks for signing up."
        msg.html = "<p>Thanks for <b>signing up</b>.</p>"
        msg.extra_headers = {{"X-Campaign": "signup"}}
        msg.attach("terms.txt", "text/plain", b"Be nice.")
        mail.send(msg)
        return "sent"

    @app.post("/digest")
    def digest():
        with mail.connect() as conn:
            for address in request.form.getlist("email"):
                conn.send(Message("Your digest", recipients=[address], body="News."))
        return "sent"

    return app
'''


def load_app(tmp_path: Path, import_line: str, name: str) -> ModuleType:
    path = tmp_path / f"{name}.py"
    path.write_text(APP_SOURCE.format(import_line=import_line), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def summary(message: ReceivedMessage) -> dict[str, Any]:
    email = message.message
    attachments = [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
                   for p in email.walk() if p.get_filename()]
    return {
        "mail_from": message.mail_from, "rcpt_tos": sorted(message.rcpt_tos),
        "from": email["From"], "to": email["To"], "cc": email["Cc"], "bcc": email["Bcc"],
        "reply_to": email["Reply-To"], "subject": message.subject, "x_campaign": email["X-Campaign"],
        "text": (message.text or "").strip(), "html": (message.html or "").strip(),
        "attachments": attachments, "authenticated_as": message.authenticated_as, "tls": message.tls,
    }


@pytest.mark.parametrize("with_tls_port", [False, True])
def test_changing_the_import_delivers_the_same_messages(tmp_path: Path, with_tls_port: bool) -> None:
    sources = [APP_SOURCE.format(import_line=line) for line in (FLASK_MAIL_IMPORT, ACUMBAMAIL_IMPORT)]
    changed = [(a, b) for a, b in zip(*(s.splitlines() for s in sources), strict=True) if a != b]
    assert changed == [(FLASK_MAIL_IMPORT, ACUMBAMAIL_IMPORT)]  # nothing else differs

    received: dict[str, list[dict[str, Any]]] = {}
    outboxes: dict[str, list[str]] = {}
    for name, line in (("flask_mail_app", FLASK_MAIL_IMPORT), ("acumbamail_app", ACUMBAMAIL_IMPORT)):
        module = load_app(tmp_path, line, f"switch_{name}_{int(with_tls_port)}")
        with FakeRelay(username="shop@example.com", password="made-up-switch-pass") as relay:
            config = {
                "MAIL_SERVER": relay.host,
                "MAIL_PORT": relay.tls_port if with_tls_port else relay.port,
                "MAIL_USE_TLS": not with_tls_port,
                "MAIL_USE_SSL": with_tls_port,
                "MAIL_USERNAME": relay.username,
                "MAIL_PASSWORD": relay.password,
                "MAIL_DEFAULT_SENDER": ("Example Shop", "shop@example.com"),
                # Flask-Mail ignores it; acumbamail-smtp verifies the fake relay's certificate with it.
                "ACUMBAMAIL_CA_FILE": relay.ca_file,
            }
            app = module.create_app(config)
            app.instance_path = str(tmp_path / f"instance-{name}")
            client = app.test_client()
            with module.mail.record_messages() as outbox:
                assert client.post("/signup", data={"email": "new@example.net"}).status_code == 200
                assert client.post("/digest", data={"email": ["a@example.net", "b@example.net"]}).status_code == 200
            outboxes[name] = [m.subject for m in outbox]
            received[name] = [summary(m) for m in relay.wait_for(3)]
            assert relay.sessions == 2  # one for the signup, one reused for the digest

    assert received["acumbamail_app"] == received["flask_mail_app"]
    assert outboxes["acumbamail_app"] == outboxes["flask_mail_app"] == ["Welcome aboard", "Your digest", "Your digest"]
    signup = received["acumbamail_app"][0]
    assert signup["rcpt_tos"] == ["audit@example.com", "new@example.net", "team@example.com"]
    assert signup["from"] == "Example Shop <shop@example.com>" and signup["bcc"] is None
    assert signup["attachments"] == [("terms.txt", "text/plain", b"Be nice.")]
    assert signup["authenticated_as"] == "shop@example.com" and signup["tls"]
