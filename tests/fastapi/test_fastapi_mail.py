"""fastapi-mail interop: ConnectionConfig -> RelayConfig, MessageSchema -> Message, and the drop-in
AcumbamailFastMail, all against the fake relay over real SMTP."""

from __future__ import annotations

import asyncio
import io
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import (
    ConfigError,
    InvalidMessage,
    Message,
    RecipientsRefused,
    RelayConfig,
    SendResult,
    SQLiteEventStore,
    TemplateError,
    prepare,
)
from acumbamail_smtp.integrations.fastapi import (
    AcumbamailFastMail,
    AcumbamailSettings,
    FastAPIMailer,
    from_fastapi_mail,
    message_from_schema,
)
from acumbamail_smtp.testserver import FakeRelay
from fastapi import FastAPI
from fastapi_mail import ConnectionConfig, FastMail, MessageSchema, MessageType, MultipartSubtypeEnum
from pydantic import BaseModel, EmailStr
from starlette.datastructures import Headers, UploadFile

from tests.fastapi.helpers import PASSWORD, USERNAME, running

SECRET = "made-up-Secret-42"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def connection_config(relay: FakeRelay | None = None, **changes: Any) -> ConnectionConfig:
    """A fastapi-mail configuration (pointing at the fake relay when given)."""
    values: dict[str, Any] = {
        "MAIL_USERNAME": USERNAME, "MAIL_PASSWORD": PASSWORD, "MAIL_FROM": "shop@example.com",
        "MAIL_FROM_NAME": "Shop", "MAIL_PORT": relay.port if relay else 587,
        "MAIL_SERVER": relay.host if relay else "smtp.acumbamail.com", "MAIL_STARTTLS": True,
        "MAIL_SSL_TLS": False, "CERT_BUNDLE": relay.ca_file if relay else None,
    }
    values.update(changes)
    return ConnectionConfig(**values)


# -- ConnectionConfig -> RelayConfig ------------------------------------------------------------

def test_connection_config_becomes_a_relay_config(relay: FakeRelay) -> None:
    config = from_fastapi_mail(connection_config(relay, TIMEOUT=17, LOCAL_HOSTNAME="app.example.com"))
    assert (config.host, config.port, config.security) == (relay.host, relay.port, "starttls")
    assert (config.username, config.password) == (USERNAME, PASSWORD)
    assert config.default_from == "Shop <shop@example.com>"
    assert config.ca_file == relay.ca_file
    assert config.timeout == 17.0 and config.local_hostname == "app.example.com"


@pytest.mark.parametrize(("starttls", "ssl_tls", "port", "security"), [
    (True, False, 587, "starttls"), (False, True, 465, "tls"), (False, True, 2525, "tls"),
])
def test_tls_flags_map_to_security(starttls: bool, ssl_tls: bool, port: int, security: str) -> None:
    config = from_fastapi_mail(connection_config(MAIL_STARTTLS=starttls, MAIL_SSL_TLS=ssl_tls, MAIL_PORT=port))
    assert (config.port, config.security) == (port, security)


def test_without_credentials_nothing_is_authenticated() -> None:
    config = from_fastapi_mail(connection_config(USE_CREDENTIALS=False, MAIL_STARTTLS=False))
    assert (config.username, config.password, config.security) == (None, None, "none")


@pytest.mark.parametrize(("changes", "field"), [
    ({"MAIL_STARTTLS": False, "MAIL_SSL_TLS": False}, "MAIL_STARTTLS"),  # credentials in clear text
    ({"MAIL_STARTTLS": True, "MAIL_SSL_TLS": True}, "MAIL_SSL_TLS"),
    ({"VALIDATE_CERTS": False}, "VALIDATE_CERTS"),
    ({"MAIL_PORT": 0}, "MAIL_PORT"),
    ({"MAIL_SERVER": " "}, "MAIL_SERVER"),
    ({"CERT_BUNDLE": "/nonexistent/ca.pem"}, "CERT_BUNDLE"),
    ({"MAIL_PASSWORD": ""}, "MAIL_PASSWORD"),
])
def test_bad_settings_are_config_errors_naming_the_fastapi_mail_field(changes: dict[str, Any], field: str) -> None:
    conf = connection_config(**{"MAIL_PASSWORD": SECRET, **changes})
    with pytest.raises(ConfigError) as info:
        from_fastapi_mail(conf)
    assert info.value.field == field
    assert SECRET not in str(info.value)


def test_unverified_certificates_only_with_allow_insecure() -> None:
    config = from_fastapi_mail(connection_config(VALIDATE_CERTS=False), allow_insecure=True)
    context = config.create_ssl_context()
    assert context.verify_mode == ssl.CERT_NONE and not context.check_hostname


def test_not_a_connection_config_is_refused() -> None:
    with pytest.raises(ConfigError):
        from_fastapi_mail({"MAIL_SERVER": "x"})  # type: ignore[arg-type]


# -- MessageSchema -> Message ---------------------------------------------------------------------

def test_every_field_of_a_schema_reaches_the_relay(relay: FakeRelay, config: RelayConfig, tmp_path: Path) -> None:
    path = tmp_path / "terms.txt"
    path.write_text("Terms and conditions")
    upload = UploadFile(io.BytesIO(b"%PDF-1.4 fake"), filename="invoice.pdf",
                        headers=Headers({"content-type": "application/pdf"}))
    schema = MessageSchema(
        subject="Your order", recipients=["ana@example.org", "Bob Díaz <bob@example.org>"],
        cc=["carla@example.org"], bcc=["audit@example.org"], reply_to=["help@example.com"],
        body="<p>Thanks <img src='cid:logo'></p>", subtype=MessageType.html,
        alternative_body="Thanks", multipart_subtype=MultipartSubtypeEnum.alternative,
        headers={"X-Order": "1234", "ACUMBAMAIL-SMTPAPI": "ORDER_CONFIRMATION"},
        attachments=[upload, str(path), {"file": str(path), "mime_type": "image", "mime_subtype": "png",
                                         "headers": {"Content-ID": "<logo>",
                                                     "Content-Disposition": 'inline; filename="logo.png"'}}],
    )
    message = message_from_schema(schema)
    assert message.to == ["ana@example.org", "Bob Díaz <bob@example.org>"]
    assert message.category == "ORDER_CONFIRMATION" and "ACUMBAMAIL-SMTPAPI" not in message.headers

    async def send() -> SendResult:
        async with FastAPIMailer(config) as mailer:
            return await mailer.send(schema)

    result = asyncio.run(send())
    assert result.status == "sent"
    [received] = relay.wait_for(1)
    assert sorted(received.rcpt_tos) == ["ana@example.org", "audit@example.org", "bob@example.org",
                                         "carla@example.org"]
    msg = received.message
    assert received.category == "ORDER_CONFIRMATION"
    assert msg["Subject"] == "Your order" and msg["X-Order"] == "1234"
    assert msg["From"] == "Shop <shop@example.com>"
    assert "Bob Díaz <bob@example.org>" in str(msg["To"]) and msg["Cc"] == "carla@example.org"
    assert msg["Bcc"] is None and msg["Reply-To"] == "help@example.com"
    assert received.html is not None and "Thanks" in received.html
    assert received.text is not None and received.text.strip() == "Thanks"
    parts = {part.get_filename(): part for part in msg.walk() if part.get_filename()}
    assert parts["invoice.pdf"].get_content_type() == "application/pdf"
    assert parts["invoice.pdf"].get_content() == b"%PDF-1.4 fake"
    assert parts["terms.txt"].get_content().strip() == "Terms and conditions"
    assert parts["logo.png"].get_content_type() == "image/png"
    assert parts["logo.png"]["Content-ID"] == "<logo>"


def test_plain_subtype_and_sender_fields() -> None:
    schema = MessageSchema(subject="s", recipients=["ana@example.org"], body="plain body",
                           subtype=MessageType.plain, from_email="news@example.com", from_name="News")
    message = message_from_schema(schema, default_from="Shop <shop@example.com>")
    assert (message.text, message.html) == ("plain body", None)
    assert message.from_email == "News <news@example.com>"
    only_name = MessageSchema(subject="s", recipients=["ana@example.org"], body="b",
                              subtype=MessageType.plain, from_name="Support")
    assert message_from_schema(only_name, default_from="Shop <shop@example.com>").from_email == \
        "Support <shop@example.com>"
    assert message_from_schema(MessageSchema(subject="s", recipients=["ana@example.org"], body="b",
                                             subtype=MessageType.plain)).from_email is None


@pytest.mark.parametrize(("schema_kwargs", "call_kwargs", "problem"), [
    ({"body": "x", "headers": {"From": "evil@example.net"}}, {}, "From"),
    ({"body": "x", "headers": {"ACUMBAMAIL-SMTPAPI": "A"}}, {"category": "B"}, "category given twice"),
    ({"template_body": {"name": "Ana"}}, {}, "needs a template"),
    ({"body": "x", "template_body": "text"}, {"template_name": "t.html"}, "template_body"),
    ({"body": "x"}, {"html_template": "t.html"}, "together"),
    ({"body": "x", "attachments": [{"file": __file__, "headers": {"X-Weird": "1"}}]}, {}, "X-Weird"),
])
def test_what_cannot_be_carried_over_is_an_invalid_message(tmp_path: Path, schema_kwargs: dict[str, Any],
                                                           call_kwargs: dict[str, Any], problem: str) -> None:
    (tmp_path / "t.html").write_text("<p>{{ name }}</p>")
    schema = MessageSchema(subject="s", recipients=["ana@example.org"], subtype=MessageType.html,
                           **schema_kwargs)

    def convert_and_prepare() -> None:
        message = message_from_schema(schema, template_folder=tmp_path, **call_kwargs)
        prepare(message, RelayConfig(default_from="shop@example.com"))

    with pytest.raises(InvalidMessage, match=problem):
        convert_and_prepare()


def test_template_name_renders_the_whole_file_from_the_template_folder(tmp_path: Path) -> None:
    (tmp_path / "welcome.html").write_text("<h1>Hi {{ name }}</h1>{% for i in body %}<li>{{ i }}</li>{% endfor %}")
    schema = MessageSchema(subject="Welcome", recipients=["ana@example.org"], subtype=MessageType.html,
                           template_body=["<a>", "b"])
    with pytest.raises(TemplateError, match="name"):  # undefined variables are errors
        message_from_schema(schema, template_name="welcome.html", template_folder=tmp_path)
    schema = MessageSchema(subject="Welcome", recipients=["ana@example.org"], subtype=MessageType.html,
                           template_body={"name": "Ana & Co", "body": ["<a>", "b"]})
    message = message_from_schema(schema, template_name="welcome.html", template_folder=tmp_path)
    assert message.html == "<h1>Hi Ana &amp; Co</h1><li>&lt;a&gt;</li><li>b</li>"
    assert message.subject == "Welcome" and message.text is None


# -- a typical fastapi-mail app, with FastMail and with the drop-in ------------------------------

class EmailSchema(BaseModel):
    email: list[EmailStr]


def fastapi_mail_example_app(conf: Any, mailer_class: Any, attachment: Path) -> FastAPI:
    """fastapi-mail's README example, as apps use it: a FastMail per request."""
    app = FastAPI()

    @app.post("/email")
    async def simple_send(email: EmailSchema) -> dict[str, str]:
        html = "<p>Hi this test mail, thanks for using Fastapi-mail</p>"
        message = MessageSchema(subject="Fastapi-Mail module", recipients=email.email, body=html,
                                subtype=MessageType.html, attachments=[str(attachment)],
                                headers={"X-Campaign": "readme"})
        fm = mailer_class(conf)
        await fm.send_message(message)
        return {"message": "email has been sent"}

    @app.post("/template")
    async def send_with_template(email: EmailSchema) -> dict[str, str]:
        message = MessageSchema(subject="Fastapi-Mail template", recipients=email.email,
                                template_body={"first_name": "Fred", "last_name": "Fredsson"},
                                subtype=MessageType.html)
        fm = mailer_class(conf)
        await fm.send_message(message, template_name="email_template.html")
        return {"message": "email has been sent"}

    return app


def _text(content: str | bytes) -> str:
    return (content.decode() if isinstance(content, bytes) else content).strip()


def summary(message: EmailMessage) -> dict[str, Any]:
    """What must be the same whoever sent it."""
    html = message.get_body(preferencelist=("html",))
    files = {p.get_filename(): _text(p.get_content()) for p in message.walk() if p.get_filename()}
    return {"from": str(message["From"]), "to": str(message["To"]), "subject": str(message["Subject"]),
            "x-campaign": message["X-Campaign"], "html": html.get_content().strip() if html else None,
            "files": files}


@pytest.mark.parametrize("mailer_class", [FastMail, AcumbamailFastMail])
async def test_the_fastapi_mail_example_app_works_with_either_mailer(relay: FakeRelay, tmp_path: Path,
                                                                     mailer_class: Any) -> None:
    attachment = tmp_path / "readme.txt"
    attachment.write_text("attached text")
    (tmp_path / "email_template.html").write_text("<p>Hi {{ first_name }} {{ last_name }}</p>")
    conf = connection_config(relay, TEMPLATE_FOLDER=tmp_path)
    app = fastapi_mail_example_app(conf, mailer_class, attachment)
    async with running(app) as client:
        for _ in range(3):
            response = await client.post("/email", json={"email": ["Ana@example.org"]})
            assert response.status_code == 200, response.text
        response = await client.post("/template", json={"email": ["ana@example.org"]})
        assert response.status_code == 200, response.text
    received = relay.wait_for(4)
    assert [m.rcpt_tos for m in received] == [["Ana@example.org"]] * 3 + [["ana@example.org"]]
    first = summary(received[0].message)
    assert first["subject"] == "Fastapi-Mail module" and first["from"] == "Shop <shop@example.com>"
    assert first["html"] == "<p>Hi this test mail, thanks for using Fastapi-mail</p>"
    assert first["files"] == {"readme.txt": "attached text"}
    assert received[3].html is not None and "<p>Hi Fred Fredsson</p>" in received[3].html
    # fastapi-mail opens a connection per send_message; the drop-in reuses one pooled connection
    assert relay.sessions == (4 if mailer_class is FastMail else 1)


async def test_both_mailers_deliver_the_same_message(relay: FakeRelay, tmp_path: Path) -> None:
    attachment = tmp_path / "readme.txt"
    attachment.write_text("attached text")
    results = []
    for mailer_class in (FastMail, AcumbamailFastMail):
        app = fastapi_mail_example_app(connection_config(relay), mailer_class, attachment)
        async with running(app) as client:
            response = await client.post("/email", json={"email": ["ana@example.org", "bob@example.org"]})
            assert response.status_code == 200
        [message] = relay.wait_for(1)
        relay.clear()
        results.append((message.mail_from, message.rcpt_tos, summary(message.message)))
    (from_a, rcpt_a, a), (from_b, rcpt_b, b) = results
    assert (from_a, rcpt_a) == (from_b, rcpt_b) == ("shop@example.com", ["ana@example.org", "bob@example.org"])
    # fastapi-mail writes "ana <ana@...>" (pydantic's made-up name); we leave the made-up name out
    assert a.pop("to") == "ana <ana@example.org>, bob <bob@example.org>"
    assert b.pop("to") == "ana@example.org, bob@example.org"
    assert a == b


async def test_html_and_plain_templates_give_both_parts(relay: FakeRelay, tmp_path: Path) -> None:
    (tmp_path / "mail.html").write_text("<p>Hello {{ name }}</p>")
    (tmp_path / "mail.txt").write_text("Hello {{ name }} & co")
    fm = AcumbamailFastMail(connection_config(relay, TEMPLATE_FOLDER=tmp_path))
    schema = MessageSchema(subject="Two parts", recipients=["ana@example.org"], subtype=MessageType.html,
                           template_body={"name": "Ana"})
    await fm.send_message(schema, html_template="mail.html", plain_template="mail.txt")
    await fm.aclose()
    [received] = relay.wait_for(1)
    assert received.html is not None and "<p>Hello Ana</p>" in received.html
    assert received.text is not None and received.text.strip() == "Hello Ana & co"


async def test_send_message_list_and_category(relay: FakeRelay) -> None:
    fm = AcumbamailFastMail(connection_config(relay))
    batch = [MessageSchema(subject=f"n{i}", recipients=[f"u{i}@example.org"], body="b",
                           subtype=MessageType.plain) for i in range(3)]
    results = await fm.send_message(batch, category="NEWS")
    assert isinstance(results, list) and [r.status for r in results] == ["sent"] * 3
    assert [m.category for m in relay.wait_for(3)] == ["NEWS"] * 3
    assert relay.sessions == 1
    with pytest.raises(InvalidMessage):
        await fm.send_message([])
    bad = [MessageSchema(subject="ok", recipients=["a@example.org"], body="b", subtype=MessageType.plain),
           MessageSchema(subject="bad\r\nBcc: x@example.net", recipients=["a@example.org"], body="b",
                         subtype=MessageType.plain)]
    with pytest.raises(InvalidMessage):
        await fm.send_message(bad)
    assert len(relay.messages) == 3  # nothing of the bad batch was sent
    await fm.aclose()


async def test_suppress_send_and_record_messages_like_fastmail(relay: FakeRelay) -> None:
    outboxes = []
    for mailer_class in (FastMail, AcumbamailFastMail):
        fm = mailer_class(connection_config(relay, SUPPRESS_SEND=1))
        schema = MessageSchema(subject="Recorded", recipients=["ana@example.org"], body="b",
                               subtype=MessageType.plain)
        with fm.record_messages() as outbox:
            await fm.send_message(schema)
        outboxes.append(outbox)
    assert relay.messages == [] and relay.sessions == 0
    [[theirs], [ours]] = outboxes
    assert theirs["Subject"] == ours["Subject"] == "Recorded"
    assert ours["To"] == "ana@example.org"


async def test_suppress_send_still_honours_the_suppression_list(relay: FakeRelay, tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as store:
        store.suppress("gone@example.org", "hard_bounce")
        fm = AcumbamailFastMail(connection_config(relay, SUPPRESS_SEND=1), store=store)
        with fm.record_messages() as outbox:
            with pytest.raises(RecipientsRefused) as caught:
                await fm.send_message(MessageSchema(subject="Gone", recipients=["Gone@Example.org"], body="b",
                                                    subtype=MessageType.plain))
            mixed = await fm.send_message(MessageSchema(subject="Mixed", recipients=["ana@example.org",
                                                                                    "gone@example.org"],
                                                        body="b", subtype=MessageType.plain))
    assert (caught.value.result.status, caught.value.result.suppressed) == ("refused", ["Gone@example.org"])
    assert (mixed.status, mixed.accepted, mixed.suppressed) == ("partially_refused", ["ana@example.org"],
                                                                ["gone@example.org"])
    assert [m["Subject"] for m in outbox] == ["Mixed"]
    assert relay.messages == [] and relay.sessions == 0


async def test_fastmail_record_messages_sees_our_sends(relay: FakeRelay) -> None:
    conf = connection_config(relay)
    with FastMail(conf).record_messages() as outbox:
        await AcumbamailFastMail(conf).send_message(
            MessageSchema(subject="Seen", recipients=["ana@example.org"], body="b", subtype=MessageType.plain))
    assert [m["Subject"] for m in outbox] == ["Seen"]
    assert len(relay.wait_for(1)) == 1


async def test_the_drop_in_takes_our_settings_and_templates(relay_env: FakeRelay, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "welcome.html").write_text(
        "{% block subject %}Welcome {{ name }}{% endblock %}{% block html %}<p>Hi {{ name }}</p>{% endblock %}")
    monkeypatch.setenv("ACUMBAMAIL_TEMPLATE_FOLDER", str(tmp_path))
    fm = AcumbamailFastMail(AcumbamailSettings())
    result = await fm.mailer.send_template("welcome", {"name": "Ana"}, to="ana@example.org", category="SIGNUP")
    await fm.aclose()
    [received] = relay_env.wait_for(1)
    assert (received.subject, received.category) == ("Welcome Ana", "SIGNUP")
    assert result.queue_id == received.id


async def test_send_template_searches_the_connection_configs_template_folder(relay: FakeRelay,
                                                                              tmp_path: Path) -> None:
    (tmp_path / "receipt.html").write_text(
        "{% block subject %}Receipt {{ number }}{% endblock %}{% block html %}<p>#{{ number }}</p>{% endblock %}")
    fm = AcumbamailFastMail(connection_config(relay, TEMPLATE_FOLDER=tmp_path))
    await fm.mailer.send_template("receipt", {"number": 7}, to="ana@example.org", category="RECEIPT")
    await fm.mailer.send_template("password_reset", {"brand_name": "Shop", "name": "Ana",  # a starter
                                                     "reset_url": "https://example.com/r"}, to="ana@example.org")
    await fm.aclose()
    first, second = relay.wait_for(2)
    assert (first.subject, first.category) == ("Receipt 7", "RECEIPT")
    assert second.html is not None and "https://example.com/r" in second.html


async def test_one_pool_per_settings_and_event_loop(relay: FakeRelay) -> None:
    conf = connection_config(relay)
    assert AcumbamailFastMail(conf).mailer is AcumbamailFastMail(conf).mailer
    assert AcumbamailFastMail(conf).mailer is not AcumbamailFastMail(connection_config(relay, TIMEOUT=5)).mailer
    insecure = connection_config(relay, VALIDATE_CERTS=False)
    assert AcumbamailFastMail(from_fastapi_mail(insecure, allow_insecure=True)).mailer is \
        AcumbamailFastMail(from_fastapi_mail(insecure, allow_insecure=True)).mailer


async def test_a_message_object_works_too(relay: FakeRelay, config: RelayConfig) -> None:
    fm = AcumbamailFastMail(config)
    message = Message(to="ana@example.org", subject="core", text="t")
    result = await fm.send_message(message)
    assert isinstance(result, SendResult) and message.send_result is result
    with pytest.raises(InvalidMessage, match="template"):
        await fm.send_message(Message(to="a@example.org", text="t"), template_name="x.html")
    await fm.aclose()
    assert relay.wait_for(1)[0].subject == "core"
