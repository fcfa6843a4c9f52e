"""Messages: validation before anything is sent, and standards-correct MIME."""

from __future__ import annotations

import email
import io
from email import policy
from pathlib import Path

import pytest
from acumbamail_smtp import CATEGORY_HEADER, Attachment, InvalidMessage, Message, RelayConfig, prepare


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


def test_text_and_html_make_multipart_alternative_with_category() -> None:
    prepared = prepare(Message(from_email="shop@example.com", to="ana@example.org", subject="Hi",
                               text="plain", html="<p>rich</p>", category="SIGNUP"))
    msg = parse(prepared.data)
    assert msg.get_content_type() == "multipart/alternative"
    assert msg[CATEGORY_HEADER] == "SIGNUP"
    assert msg.get_body(("plain",)).get_content().strip() == "plain"
    assert msg.get_body(("html",)).get_content().strip() == "<p>rich</p>"
    assert msg["Message-ID"] == prepared.message_id
    assert msg["Date"]
    assert b"\r\n" in prepared.data and b"\n" not in prepared.data.replace(b"\r\n", b"")


def test_default_from_and_default_category_apply() -> None:
    config = RelayConfig(default_from="Shop <shop@example.com>", default_category="RECEIPT")
    prepared = prepare(Message(to="a@example.org", text="x"), config)
    msg = parse(prepared.data)
    assert msg["From"] == "Shop <shop@example.com>"
    assert msg[CATEGORY_HEADER] == "RECEIPT"
    assert prepared.envelope_from == "shop@example.com"
    own = prepare(Message(to="a@example.org", text="x", category="PASSWORD_RECOVERY"), config)
    assert parse(own.data)[CATEGORY_HEADER] == "PASSWORD_RECOVERY"


def test_bcc_is_an_envelope_recipient_but_never_a_header() -> None:
    prepared = prepare(Message(from_email="s@example.com", to="a@example.org", cc=["c@example.org"],
                               bcc=["secret@example.org"], text="x"))
    assert prepared.recipients == ["a@example.org", "c@example.org", "secret@example.org"]
    assert b"secret@example.org" not in prepared.data
    assert parse(prepared.data)["Bcc"] is None


def test_duplicate_recipients_get_one_rcpt() -> None:
    prepared = prepare(Message(from_email="s@example.com", to=["a@example.org", "A@Example.org"],
                               bcc="a@example.org", text="x"))
    assert prepared.recipients == ["a@example.org"]


def test_non_ascii_subject_name_and_domain() -> None:
    prepared = prepare(Message(from_email="Ñandú Tienda <tienda@exámple.com>", to="José <jose@ejemplo.es>",
                               subject="Confirmación de pedido ✓", text="¡Gracias!", html="<p>¡Gracias!</p>"))
    assert prepared.data.isascii()
    msg = parse(prepared.data)
    assert str(msg["Subject"]) == "Confirmación de pedido ✓"
    assert msg["From"].addresses[0].display_name == "Ñandú Tienda"
    assert msg["From"].addresses[0].domain == "xn--exmple-qta.com"
    assert prepared.envelope_from == "tienda@xn--exmple-qta.com"
    assert prepared.smtputf8 is False
    assert msg.get_body(("plain",)).get_content().strip() == "¡Gracias!"


def test_non_ascii_local_part_needs_smtputf8() -> None:
    prepared = prepare(Message(from_email="s@example.com", to="josé@example.org", text="x"))
    assert prepared.smtputf8 is True
    assert prepared.recipients == ["josé@example.org"]


def test_attachments_inline_images_and_sources(tmp_path: Path) -> None:
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4 fake")
    message = Message(from_email="s@example.com", to="a@example.org", text="see attached",
                      html='<p><img src="cid:logo" alt="Logo"></p>')
    message.attach_file(pdf)
    message.attach(b"\x89PNG\r\n", "logo.png", content_id="logo")
    message.attach(io.BytesIO(b"a,b\n1,2\n"), "data.csv")
    message.attachments.append(Attachment("hello", "note.txt"))
    msg = parse(prepare(message).data)
    assert msg.get_content_type() == "multipart/mixed"
    related = [p for p in msg.walk() if p.get_content_type() == "multipart/related"]
    assert len(related) == 1
    image = next(p for p in msg.walk() if p.get_content_type() == "image/png")
    assert image["Content-ID"] == "<logo>"
    assert image.get_content() == b"\x89PNG\r\n"
    files = {p.get_filename(): p for p in msg.iter_attachments()}
    assert files["invoice.pdf"].get_content_type() == "application/pdf"
    assert files["invoice.pdf"].get_content() == b"%PDF-1.4 fake"
    assert files["data.csv"].get_content_type() == "text/csv"
    assert files["note.txt"].get_content().strip() == "hello"


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"to": "not-an-address"}, "to"),
        ({"to": None}, "no recipient"),
        ({"text": None}, "no body"),
        ({"subject": "Hi\r\nBcc: victim@example.org"}, "header injection"),
        ({"to": "a@example.org\r\nBcc: victim@example.org"}, "header injection"),
        ({"headers": {"X-Campaign": "a\nb"}}, "header injection"),
        ({"headers": {"Bad Name": "v"}}, "invalid header name"),
        ({"headers": {"Bcc": "x@example.org"}}, "set by the library"),
        ({"category": "A\r\nB"}, "control characters"),
        ({"category": ""}, "empty"),
        ({"category": "x" * 101}, "100 characters"),
        ({"from_email": "nobody"}, "from_email"),
        ({"to": "a@example.org, b@example.org", "cc": ["c@example.org, d@example.org"]}, "several addresses"),
        ({"to": "a\tb@example.org"}, "control character"),
        ({"to": "a\x7fb@example.org"}, "control character"),
        ({"headers": {"Reply-To": "x@example.org"}}, "set by the library"),
        ({"headers": {"Message-ID": "no-angle-brackets"}}, "<id@domain>"),
        ({"cc": ["ok@example.org", "bad@"]}, "cc"),
    ],
)
def test_invalid_input_is_refused_before_sending(fields: dict, words: str) -> None:
    base = {"from_email": "s@example.com", "to": "a@example.org", "subject": "s", "text": "body"}
    base.update(fields)
    message = Message(**base)
    with pytest.raises(InvalidMessage, match=words):
        prepare(message)


def test_missing_sender_without_default_names_the_setting() -> None:
    with pytest.raises(InvalidMessage, match="default_from"):
        prepare(Message(to="a@example.org", text="x"))


def test_inline_image_without_html_is_refused() -> None:
    message = Message(from_email="s@example.com", to="a@example.org", text="x")
    message.attach(b"img", "i.png", content_id="i")
    with pytest.raises(InvalidMessage, match="html"):
        prepare(message)


def test_unreadable_attachment_is_refused_with_its_path(tmp_path: Path) -> None:
    message = Message(from_email="s@example.com", to="a@example.org", text="x")
    message.attach_file(tmp_path / "missing.pdf")
    with pytest.raises(InvalidMessage, match="missing.pdf"):
        prepare(message)


def test_categories_with_spaces_hyphens_and_accents_are_allowed() -> None:
    for category in ("ORDER_CONFIRMATION", "password reset", "alta-cliente", "Confirmación"):
        prepared = prepare(Message(from_email="s@example.com", to="a@example.org", text="x", category=category))
        assert str(parse(prepared.data)[CATEGORY_HEADER]) == category


def test_message_ids_are_unique() -> None:
    ids = {prepare(Message(from_email="s@example.com", to="a@example.org", text="x")).message_id
           for _ in range(200)}
    assert len(ids) == 200
