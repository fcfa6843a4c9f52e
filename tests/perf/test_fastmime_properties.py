"""The fast MIME writer, proved against the standard library: for generated messages (non-ASCII
names and subjects, long lines, lines starting with '.', attachments, inline images) Python's
``email`` parser must read our bytes back to the same headers, structure and payloads as it reads
the standard library's own output, and every line must end CRLF within 998 octets."""

from __future__ import annotations

import email
import email.policy
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Any

import pytest
from acumbamail_smtp.message import fastmime
from acumbamail_smtp.message.addresses import ParsedAddress, idna_domain
from acumbamail_smtp.message.mime import serialize, serialize_stdlib
from acumbamail_smtp.message.model import Attachment, Message
from acumbamail_smtp.message.prepare import prepare, resolve_headers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Printable text of every script, plus the characters that make MIME hard.
_chars = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x85")
header_text = st.text(st.one_of(_chars, st.sampled_from(" =?.\"\\,;:<>()é中😀")), max_size=150)
#: Characters str.splitlines() breaks at but MIME does not: only CR, LF and CRLF end a line.
NOT_LINE_BREAKS = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
body_text = st.lists(
    st.one_of(
        st.text(st.one_of(_chars, st.sampled_from(" \t.="), st.sampled_from(NOT_LINE_BREAKS)), max_size=120),
        st.just("."), st.just(".."), st.just(". leading dot"), st.just("trailing space "),
        st.text(st.sampled_from("ab ."), min_size=990, max_size=1200),  # around the 998 limit
        st.just("x" * 2000), st.just("ñ" * 700),
    ),
    min_size=1, max_size=8,
).map(lambda lines: "\n".join(lines)).filter(lambda s: s.strip() != "")
local_part = st.from_regex(r"[a-z0-9]{1,10}([._+-][a-z0-9]{1,8}){0,2}", fullmatch=True)
domain = st.sampled_from(["example.com", "example.org", "exämple.es", "mail.example.net", "xn--bcher-kva.de"])
display_name = st.one_of(st.just(""), header_text.map(str.strip), st.sampled_from(
    ["Ana", "Ana María Pérez", "O'Brien, Pat", 'Say "hi"', "back\\slash", "José", "山田 太郎", "a" * 120]))


@st.composite
def addresses(draw: Any, max_size: int = 3) -> list[str]:
    out = []
    for _ in range(draw(st.integers(0, max_size))):
        addr = f"{draw(local_part)}@{draw(domain)}"
        name = draw(display_name)
        out.append(str(Address(display_name=name, addr_spec=addr)) if name else addr)
    return out


@st.composite
def attachment_list(draw: Any, html: bool) -> list[Attachment]:
    out = []
    for i in range(draw(st.integers(0, 3))):
        data = draw(st.binary(max_size=400))
        mimetype = draw(st.sampled_from(["image/png", "application/pdf", "text/plain", "text/csv", None]))
        filename = draw(st.one_of(st.none(), st.sampled_from(["a.png", "informe final.pdf", "ñandú.txt",
                                                              'q"uote.csv', "日本語.bin"]),
                                  header_text.filter(lambda s: s.strip() != "")))
        cid = f"img{i}@example.com" if html and draw(st.booleans()) else None
        out.append(Attachment(data, filename, mimetype or ("text/plain" if filename is None else None), cid))
    return out


@st.composite
def messages(draw: Any) -> Message:
    to = draw(addresses())
    cc = draw(addresses(2))
    bcc = draw(addresses(1))
    if not (to or cc or bcc):
        to = ["someone@example.com"]
    text = draw(st.one_of(st.none(), body_text))
    html = draw(st.one_of(st.none(), body_text.map(lambda t: f"<p>{t}</p>")))
    if not text and not html:
        text = "fallback body"
    sender_name = draw(display_name)
    sender = f"{draw(local_part)}@{draw(domain)}"
    extra = draw(st.dictionaries(st.from_regex(r"X-[A-Za-z][A-Za-z0-9-]{0,20}", fullmatch=True),
                                 header_text, max_size=2))
    return Message(
        from_email=str(Address(display_name=sender_name, addr_spec=sender)) if sender_name else sender,
        to=to, cc=cc, bcc=bcc, reply_to=draw(addresses(1)),
        subject=draw(header_text), text=text, html=html,
        category=draw(st.one_of(st.none(), st.sampled_from(["SIGNUP", "ORDER_CONFIRMATION", "Pedido nº 5"]))),
        headers=extra, attachments=draw(attachment_list(bool(html))),
    )


def parse(data: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not parsed.defects, parsed.defects
    return parsed


def structure(msg: EmailMessage) -> list[dict[str, Any]]:
    """What a reader sees of the body: the part tree and every payload."""
    parts = []
    for part in msg.walk():
        assert not part.defects, part.defects
        entry: dict[str, Any] = {"type": part.get_content_type(), "disposition": part.get_content_disposition(),
                                 "filename": part.get_filename(), "cid": part["Content-ID"]}
        if not part.is_multipart():
            entry["charset"] = part.get_content_charset()
            entry["payload"] = part.get_payload(decode=True)
            if part.get_content_maintype() == "text" and part.get_content_disposition() is None:
                entry["text"] = part.get_content()
        parts.append(entry)
    return parts


def mailboxes(msg: EmailMessage, name: str) -> list[tuple[str, str]]:
    header = msg[name]
    return [] if header is None else [(a.display_name, a.addr_spec) for a in header.addresses]


def expected_mailboxes(addresses: list[ParsedAddress]) -> list[tuple[str, str]]:
    return [(a.name, f"{a.local_part}@{idna_domain(a.domain)}") for a in addresses]


def check_lines(data: bytes) -> None:
    assert data.endswith(b"\r\n")
    assert data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r"), "bare CR or LF"
    assert data.isascii()
    assert max(len(line) for line in data.split(b"\r\n")) <= 998


@SETTINGS
@given(messages())
def test_fast_writer_reads_back_like_the_standard_library(message: Message) -> None:
    headers = resolve_headers(message)
    fast = fastmime.write(headers, message.text, message.html, message.attachments)
    reference = serialize_stdlib(headers, message.text, message.html, message.attachments)
    if fast is None:  # declined: the seam falls back to the standard library
        fallback = serialize(headers, message.text, message.html, message.attachments)
        assert structure(parse(fallback)) == structure(parse(reference))
        return
    check_lines(fast)
    ours, theirs = parse(fast), parse(reference)
    assert structure(ours) == structure(theirs)
    assert sorted(k.lower() for k in ours) == sorted(k.lower() for k in theirs)
    # Header text against the input itself: the reference writer has folding bugs of its own
    # (it can insert a space into a long non-ASCII display name), so it is not the ground truth.
    assert mailboxes(ours, "From") == expected_mailboxes([headers.from_])
    assert mailboxes(ours, "To") == expected_mailboxes(headers.to)
    assert mailboxes(ours, "Cc") == expected_mailboxes(headers.cc)
    assert mailboxes(ours, "Reply-To") == expected_mailboxes(headers.reply_to)
    assert ours["Date"] == theirs["Date"]
    assert str(ours["Subject"]) == headers.subject
    assert ours["Message-ID"] == headers.message_id
    assert ours["ACUMBAMAIL-SMTPAPI"] == headers.category
    for name in {n.lower() for n, _ in headers.extra}:
        assert [str(v) for v in ours.get_all(name, [])] == [v for n, v in headers.extra if n.lower() == name]


@SETTINGS
@given(messages())
def test_fast_writer_takes_the_common_messages(message: Message) -> None:
    """The fast path is not a fig leaf: it declines only what it documents as unusual."""
    headers = resolve_headers(message)
    fast = fastmime.write(headers, message.text, message.html, message.attachments)
    names = [a.name for a in (headers.from_, *headers.to, *headers.cc, *headers.reply_to)]
    unusual = any((len(n.encode()) > 45 and not n.isascii())
                  or "=?" in n or n != n.strip() or "  " in n or not n.replace(" ", "x").isprintable()
                  for n in names)
    if not unusual:
        assert fast is not None


@SETTINGS
@given(st.lists(st.sampled_from([".", "..", ".x", "x.", "", " .", "a"]), min_size=1, max_size=12))
def test_lines_starting_with_a_dot_survive(lines: list[str]) -> None:
    text = "\n".join(lines) + "\nend"
    message = Message(from_email="a@example.com", to="b@example.com", subject="dots", text=text)
    data = prepare(message).data
    check_lines(data)
    assert parse(data).get_content().replace("\r\n", "\n") == "\n".join(text.splitlines()) + "\n"


def test_typical_message_takes_the_fast_path_and_is_7bit() -> None:
    message = Message(from_email="Shop <shop@example.com>", to="ana@example.org", subject="Your order",
                      text="Thanks!", html="<p>Thanks!</p>", category="ORDER_CONFIRMATION")
    headers = resolve_headers(message)
    data = fastmime.write(headers, message.text, message.html, message.attachments)
    assert data is not None
    assert b"Content-Transfer-Encoding: 7bit\r\n" in data
    assert b"quoted-printable" not in data and b"=?utf-8?" not in data
    assert b"\r\nACUMBAMAIL-SMTPAPI: ORDER_CONFIRMATION\r\n" in data


def test_non_ascii_header_is_encoded_and_folded() -> None:
    subject = "Confirmación de su pedido número 12345 — gracias por comprar en nuestra tienda " * 3
    message = Message(from_email="Tienda Ñandú <shop@example.com>", to="ana@example.org",
                      subject=subject, text="hola")
    data = prepare(message).data
    check_lines(data)
    head = data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    parsed = parse(data)
    assert parsed["Subject"] == subject
    assert parsed["From"].addresses[0].display_name == "Tienda Ñandú"


def test_smtputf8_message_falls_back_to_the_standard_library() -> None:
    message = Message(from_email="josé@example.com", to="ana@example.org", subject="hi", text="hola")
    headers = resolve_headers(message)
    assert headers.smtputf8
    assert fastmime.write(headers, message.text, message.html, message.attachments) is None
    data = prepare(message).data
    assert "\r\nFrom: josé@example.com\r\n".encode() in b"\r\n" + data


def body_of(data: bytes) -> str:
    part = parse(data)
    return part.get_content().replace("\r\n", "\n")


@SETTINGS
@given(st.lists(st.text(st.one_of(_chars, st.sampled_from(NOT_LINE_BREAKS + " ")), max_size=60), min_size=1,
                max_size=6), st.sampled_from(["\n", "\r\n", "\r"]))
def test_only_cr_and_lf_break_lines(lines: list[str], newline: str) -> None:
    """Form feed, vertical tab, the file separators, NEL, U+2028 and U+2029 are text, kept as the
    standard library's writer keeps them; CR, LF and CRLF are the line breaks."""
    text = newline.join([*lines, "end"])
    message = Message(from_email="a@example.com", to="b@example.com", subject="breaks", text=text)
    headers = resolve_headers(message)
    fast = fastmime.write(headers, text, None, [])
    assert fast is not None
    check_lines(fast)
    expected = "\n".join([*lines, "end"]) + "\n"
    assert body_of(fast) == expected
    assert body_of(serialize_stdlib(headers, text, None, [])) == expected


@pytest.mark.parametrize("char", list(NOT_LINE_BREAKS))
def test_each_character_that_is_not_a_line_break_survives(char: str) -> None:
    text = f"before{char}after"
    message = Message(from_email="a@example.com", to="b@example.com", subject="x", text=text, html=f"<p>{text}</p>")
    data = prepare(message).data
    check_lines(data)
    parsed = parse(data)
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text + "\n"
    assert parsed.get_body(("html",)).get_content().replace("\r\n", "\n") == f"<p>{text}</p>\n"
