"""Flask-Mail 0.10's documented behaviour, run once with Flask-Mail itself and once with the
drop-in: the tests take the package (``flask_mail`` or ours) as a parameter, and only that import
changes, so a passing pair proves the behaviour is Flask-Mail's and that we match it. Both send to
the fake relay over STARTTLS (Flask-Mail does not verify the certificate; we trust the relay's CA
through ``ACUMBAMAIL_CA_FILE``, which Flask-Mail ignores). Deliberate differences are at the end."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import flask_mail
import pytest
from acumbamail_smtp.errors import ConnectionFailed, InvalidMessage
from acumbamail_smtp.integrations import flask as drop_in
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask, current_app

PEERS = [pytest.param(flask_mail, id="flask_mail"), pytest.param(drop_in, id="acumbamail")]


def mail_config(relay: FakeRelay, **extra: Any) -> dict[str, Any]:
    """A Flask-Mail configuration reaching ``relay``."""
    return {
        "MAIL_SERVER": relay.host, "MAIL_PORT": relay.port, "MAIL_USE_TLS": True,
        "MAIL_USERNAME": relay.username, "MAIL_PASSWORD": relay.password,
        "MAIL_DEFAULT_SENDER": ("Example Shop", "shop@example.com"),
        "ACUMBAMAIL_CA_FILE": relay.ca_file, **extra,
    }


@pytest.fixture
def make(relay: FakeRelay, tmp_path: Path) -> Callable[..., tuple[Flask, Any]]:
    """``make(package, **config)``: an app (in an app context) and the package's ``Mail(app)``."""
    contexts: list[Any] = []

    def build(package: ModuleType, **config: Any) -> tuple[Flask, Any]:
        app = Flask("compat_app", instance_path=str(tmp_path / f"instance{len(contexts)}"))
        app.config.update(mail_config(relay, **config))
        mail = package.Mail(app) if package is flask_mail else package.Acumbamail(app)
        context = app.app_context()
        context.push()
        contexts.append(context)
        return app, mail

    yield build  # type: ignore[misc]
    for context in reversed(contexts):
        context.pop()


Make = Callable[..., tuple[Flask, Any]]


@pytest.mark.parametrize("package", PEERS)
def test_sender_and_date_are_set_by_sending(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    _, mail = make(package)
    message = package.Message("Hi", recipients=["ana@example.net"], body="Hello")
    assert message.sender == "Example Shop <shop@example.com>"  # the default, applied when built
    with mail.record_messages() as outbox:
        mail.send(message)
    assert outbox[0].sender == "Example Shop <shop@example.com>"
    assert isinstance(outbox[0].date, float)
    [received] = relay.wait_for(1)
    assert received.message["From"] == "Example Shop <shop@example.com>"


@pytest.mark.parametrize("package", PEERS)
def test_a_sender_pair_becomes_name_and_address(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    make(package)
    message = package.Message("Hi", sender=("Me", "me@example.com"), recipients=["ana@example.net"],
                              body="Hello")
    assert message.sender == "Me <me@example.com>"


@pytest.mark.parametrize("package", PEERS)
def test_header_injection_raises_bad_header_error(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    _, mail = make(package)
    for change in ({"subject": "Hi\r\nBcc: victim@example.org"},
                   {"recipients": ["ana@example.net\r\nBcc: victim@example.org"]}):
        fields: dict[str, Any] = {"subject": "Hi", "recipients": ["ana@example.net"], "body": "x", **change}
        with pytest.raises(package.BadHeaderError):
            mail.send(package.Message(**fields))
    assert relay.messages == []


def test_our_bad_header_error_is_also_an_invalid_message() -> None:
    assert issubclass(drop_in.BadHeaderError, InvalidMessage)


@pytest.mark.parametrize("package", PEERS)
def test_email_dispatched_receivers_get_what_flask_mail_sends(make: Make, relay: FakeRelay,
                                                              package: ModuleType) -> None:
    app, mail = make(package)
    seen: list[tuple[Any, str]] = []

    def log_message(app: Flask, message: Any) -> None:  # blinker passes the app first
        seen.append((app, message.subject))

    def documented(message: Any, app: Flask) -> None:  # Flask-Mail's docs name them the other way
        seen.append((app, message.subject))

    with package.email_dispatched.connected_to(log_message):
        mail.send(package.Message("Logged", recipients=["ana@example.net"], body="x"))
    assert seen == [(app, "Logged")]
    # the order written in Flask-Mail's documentation fails with Flask-Mail itself, and with us alike
    with package.email_dispatched.connected_to(documented), pytest.raises(TypeError, match="message"):
        mail.send(package.Message("Twice", recipients=["ana@example.net"], body="x"))


@pytest.mark.parametrize("package", PEERS)
def test_the_extension_is_in_app_extensions_mail(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    make(package)
    current_app.extensions["mail"].send(package.Message("Via extensions", recipients=["ana@example.net"],
                                                        body="x"))
    assert relay.wait_for(1)[0].subject == "Via extensions"


@pytest.mark.parametrize("package", PEERS)
def test_an_attachment_without_a_body_is_sent(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    _, mail = make(package)
    message = package.Message("Report", recipients=["ana@example.net"])
    message.attach("report.csv", "text/csv", b"a,b\n1,2\n")
    mail.send(message)
    [received] = relay.wait_for(1)
    files = {p.get_filename(): p.get_payload(decode=True) for p in received.message.walk() if p.get_filename()}
    assert files == {"report.csv": b"a,b\n1,2\n"}


@pytest.mark.parametrize("package", PEERS)
@pytest.mark.parametrize("ascii_only", [False, True])
def test_mail_ascii_attachments(make: Make, relay: FakeRelay, package: ModuleType, ascii_only: bool) -> None:
    _, mail = make(package, MAIL_ASCII_ATTACHMENTS=ascii_only)
    message = package.Message("Résumé", recipients=["ana@example.net"], body="attached")
    message.attach("Résumé  final.txt", "text/plain", b"cv")
    mail.send(message)
    [received] = relay.wait_for(1)
    names = [p.get_filename() for p in received.message.walk() if p.get_filename()]
    assert names == (["Resume final.txt"] if ascii_only else ["Résumé  final.txt"])


@pytest.mark.parametrize("package", PEERS)
def test_send_message_and_suppressed_sending(make: Make, relay: FakeRelay, package: ModuleType) -> None:
    """Flask-Mail's testing example: ``MAIL_SUPPRESS_SEND`` records without connecting."""
    _, mail = make(package, MAIL_SUPPRESS_SEND=True)
    with mail.record_messages() as outbox:
        mail.send_message(subject="testing", body="test", recipients=["ana@example.net", "bob@example.net"])
        assert len(outbox) == 1
        assert outbox[0].subject == "testing"
    assert relay.sessions == 0


# -- Flask-Mail's documentation example app, with only the import changed -----------------------

DOC_APP = '''\
from flask import Flask
{import_line}

app = Flask(__name__)
app.config.update(CONFIG)
mail = Mail(app)


@app.route("/")
def index():
    msg = Message("Hello", sender="from@example.com", recipients=["to@example.com"])
    msg.body = "testing"
    msg.html = "<b>testing</b>"
    with app.open_resource("image.png") as fp:
        msg.attach("image.png", "image/png", fp.read())
    mail.send(msg)
    return "sent"


@app.route("/bulk")
def bulk():
    users = [("Ana", "ana@example.com"), ("Bob", "bob@example.com")]
    with mail.connect() as conn:
        for name, email in users:
            message = "..."
            subject = "hello, %s" % name
            msg = Message(recipients=[email], body=message, subject=subject)
            conn.send(msg)
    return "sent"
'''


@pytest.mark.parametrize("import_line", ["from flask_mail import Mail, Message",
                                         "from acumbamail_smtp.integrations.flask import Acumbamail as Mail, Message"])
def test_the_documentation_app_runs_on_the_fake_relay(relay: FakeRelay, tmp_path: Path, import_line: str) -> None:
    folder = tmp_path / "docapp"
    folder.mkdir()
    (folder / "image.png").write_bytes(b"\x89PNG fake")
    source = DOC_APP.format(import_line=import_line)
    namespace: dict[str, Any] = {"__name__": "docapp", "__file__": str(folder / "docapp.py"),
                                 "CONFIG": mail_config(relay)}
    exec(compile(source, str(folder / "docapp.py"), "exec"), namespace)  # the example app
    app: Flask = namespace["app"]
    app.root_path = str(folder)
    app.instance_path = str(tmp_path / "instance")
    client = app.test_client()
    assert client.get("/").text == "sent" and client.get("/bulk").text == "sent"
    first, *bulk = relay.wait_for(3)
    assert (first.mail_from, first.rcpt_tos, first.subject) == ("from@example.com", ["to@example.com"], "Hello")
    assert (first.text or "").strip() == "testing" and "<b>testing</b>" in (first.html or "")
    assert [p.get_filename() for p in first.message.walk() if p.get_filename()] == ["image.png"]
    assert [(m.subject, m.rcpt_tos) for m in bulk] == [("hello, Ana", ["ana@example.com"]),
                                                      ("hello, Bob", ["bob@example.com"])]
    assert relay.sessions == 2 and all(m.tls for m in relay.messages)


# -- deliberate differences -------------------------------------------------------------------------

def test_send_returns_the_result_and_the_relay_certificate_is_verified(make: Make, relay: FakeRelay) -> None:
    app, mail = make(drop_in, ACUMBAMAIL_CA_FILE=None)
    with pytest.raises(ConnectionFailed, match="certificate"):
        mail.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="x"))  # unknown CA
    app.config["ACUMBAMAIL_CA_FILE"] = relay.ca_file
    result = mail.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="x"))
    assert result.status == "sent" and result.queue_id == relay.wait_for(1)[0].id


@pytest.mark.parametrize(("change", "named"), [
    ({"mail_options": ["SMTPUTF8"]}, "mail_options"),
])
def test_what_we_refuse_flask_mail_sends(make: Make, relay: FakeRelay, change: dict[str, Any], named: str) -> None:
    _, theirs = make(flask_mail)
    theirs.send(flask_mail.Message("Hi", recipients=["ana@example.net"], body="Hello", **change))
    assert len(relay.wait_for(1)) == 1
    _, ours = make(drop_in)
    with pytest.raises(InvalidMessage, match=named):
        ours.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="Hello", **change))
    assert len(relay.messages) == 1


@pytest.mark.parametrize("module", [flask_mail, drop_in], ids=["flask-mail", "drop-in"])
def test_a_charset_and_other_alternatives_are_sent(make: Make, relay: FakeRelay, module: Any) -> None:
    _, mail = make(module)
    mail.send(module.Message("Olé", recipients=["ana@example.net"], body="Olé café", charset="iso-8859-1",
                             html="<p>Olé</p>", alts={"watch-html": "<p>watch</p>"}))
    [received] = relay.wait_for(1)
    parts = {part.get_content_type(): part for part in received.message.walk() if not part.is_multipart()}
    assert set(parts) == {"text/plain", "text/html", "text/watch-html"}
    assert parts["text/plain"].get_content_charset() == "iso-8859-1"
    assert parts["text/plain"].get_payload(decode=True).rstrip(b"\r\n") == "Olé café".encode("iso-8859-1")
    assert parts["text/watch-html"].get_content().strip() == "<p>watch</p>"


def test_a_body_the_charset_cannot_hold_is_refused_not_garbled(make: Make, relay: FakeRelay) -> None:
    _, ours = make(drop_in)
    with pytest.raises(InvalidMessage, match="charset"):
        ours.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="日本", charset="iso-8859-1"))
    assert relay.messages == []


def test_results_come_on_message_sent(make: Make, relay: FakeRelay) -> None:
    _, mail = make(drop_in)
    seen: list[Any] = []
    with drop_in.message_sent.connected_to(lambda app, message, result: seen.append(result.status)):
        mail.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="x"))
    assert seen == ["sent"]


def test_acumbamail_environment_variables_are_read_after_app_config(
        relay: FakeRelay, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ``export`` block of ``acumbamail-smtp testserver`` works for a Flask app."""
    for name, value in {"HOST": relay.host, "PORT": str(relay.port), "SECURITY": "starttls",
                        "USERNAME": relay.username, "PASSWORD": relay.password,
                        "CA_FILE": relay.ca_file, "DEFAULT_FROM": "env@example.com"}.items():
        monkeypatch.setenv(f"ACUMBAMAIL_{name}", value)
    app = Flask("env_app", instance_path=str(tmp_path / "instance"))
    app.config.update(ACUMBAMAIL_SUPPRESS_SEND=False, MAIL_DEFAULT_SENDER="config@example.com")
    mail = drop_in.Acumbamail(app)
    with app.app_context():
        mail.send(drop_in.Message("From env", recipients=["ana@example.net"], body="x"))
    [received] = relay.wait_for(1)
    assert received.authenticated_as == relay.username
    assert received.mail_from == "config@example.com"  # app.config wins over the environment


def test_creating_the_default_store_is_logged_once(make: Make, relay: FakeRelay,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    app, mail = make(drop_in)
    with caplog.at_level(logging.WARNING, logger="acumbamail_smtp.flask"):
        for _ in range(2):
            mail.send(drop_in.Message("Hi", recipients=["ana@example.net"], body="x"))
    created = [r for r in caplog.records if "creating the event store" in r.getMessage()]
    assert len(created) == 1 and "acumbamail-events.sqlite3" in created[0].getMessage()
    assert (Path(app.instance_path) / "acumbamail-events.sqlite3").exists()
