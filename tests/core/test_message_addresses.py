"""Addresses: internationalised domains by IDNA 2008 + UTS #46 (never rewritten to another
domain), and one address per string (a string never becomes two recipients)."""

from __future__ import annotations

import email
from email import policy

import pytest
from acumbamail_smtp import InvalidMessage, Message, prepare
from acumbamail_smtp.events import normalize_address
from acumbamail_smtp.message import parse_address


def headers(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("domain", "ascii_form"),
    [
        ("faß.de", "xn--fa-hia.de"),  # IDNA 2003 made this fass.de: someone else's domain
        ("βόλος.gr", "xn--nxasmm1c.gr"),  # final sigma kept (IDNA 2003: xn--nxasmq6b.gr)
        ("ΒΌΛΟΣ.gr", "xn--nxasmq6b.gr"),  # capital sigma maps to sigma, as UTS #46 says
        ("FAß.DE", "xn--fa-hia.de"),  # case folded by UTS #46
        ("ｅｘａｍｐｌｅ.com", "example.com"),  # fullwidth folded by UTS #46
        ("例子。com", "xn--fsqu00a.com"),  # ideographic full stop is a dot
        ("exámple.com", "xn--exmple-qta.com"),
        ("xn--fa-hia.de", "xn--fa-hia.de"),  # already ASCII: as given
    ],
)
def test_international_domains_go_out_in_their_idna_2008_form(domain: str, ascii_form: str) -> None:
    prepared = prepare(Message(from_email=f"Shop <shop@{domain}>", to=f"ana@{domain}", text="x"))
    assert prepared.envelope_from == f"shop@{ascii_form}"
    assert prepared.recipients == [f"ana@{ascii_form}"]
    parsed = headers(prepared.data)
    assert parsed["From"].addresses[0].domain == ascii_form
    assert parsed["To"].addresses[0].domain == ascii_form
    assert prepared.message_id.endswith(f"@{ascii_form}>")


@pytest.mark.parametrize(
    ("domain", "why"),
    [
        ("😀.com", "emoji are not allowed by IDNA 2008"),
        ("mail.i❤.ws", "symbols neither"),
        ("a" * 60 + "ñ.com", "a label over 63 octets once encoded"),
        ("a" * 64 + ".com", "an ASCII label over 63 octets"),
        (".".join(["ñ" + "a" * 50] * 5), "a domain over 253 octets once encoded"),
        ("xn--ñ.com", "a Unicode label with the ACE prefix"),
        ("a\u200db.com", "a zero-width joiner outside its context"),
    ],
)
@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to", "from_email"])
def test_domains_that_cannot_be_encoded_are_refused_naming_the_field(domain: str, why: str, field: str) -> None:
    fields = {"from_email": "s@example.com", "to": "a@example.org", "text": "x", field: f"ana@{domain}"}
    with pytest.raises(InvalidMessage, match=rf"^{field}: ") as caught:
        prepare(Message(**fields))  # type: ignore[arg-type]
    assert "xn--" in str(caught.value) or "domain" in str(caught.value), why


def test_event_addresses_are_keyed_like_the_envelope() -> None:
    for domain in ("faß.de", "ΒΌΛΟΣ.gr", "βόλος.gr", "ｅｘａｍｐｌｅ.com"):
        envelope = parse_address(f"Ana@{domain}").envelope()
        assert normalize_address(f"Ana@{domain}") == envelope.lower(), domain
    assert normalize_address("Ana <ANA@Faß.de>") == "ana@xn--fa-hia.de"


@pytest.mark.parametrize("field", ["to", "cc", "bcc", "reply_to"])
@pytest.mark.parametrize(
    "value",
    [
        "ana@example.org <evil@example.org>",  # getaddresses reads two addresses here
        "ana@example.org<evil@example.org>",
        "<ana@example.org> <evil@example.org>",
        "Ana <ana@example.org> evil@example.org",
        "ana@example.org (comment) <evil@example.org>",
        "ana@example.org, evil@example.org",
        "ana@example.org; evil@example.org",
        "group: ana@example.org, evil@example.org;",
        "Ana <ana@example.org>, ",
        "Ana <ana@example.org",
        "Ana <ana@example.org> trailing",
    ],
)
def test_a_string_holds_exactly_one_address(field: str, value: str) -> None:
    fields = {"from_email": "s@example.com", "to": "a@example.org", "text": "x", field: value}
    with pytest.raises(InvalidMessage, match=rf"^{field}: "):
        prepare(Message(**fields))  # type: ignore[arg-type]
    with pytest.raises(InvalidMessage, match=rf"^{field}: "):
        prepare(Message(**{**fields, field: [value]}))  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["ana@example.org <evil@example.org>", "a@example.org, b@example.org"])
def test_the_sender_is_one_address_too(value: str) -> None:
    with pytest.raises(InvalidMessage, match="^from_email: "):
        prepare(Message(from_email=value, to="a@example.org", text="x"))


@pytest.mark.parametrize(
    ("value", "name", "addr"),
    [
        ('"ana@example.org" <evil@example.org>', "ana@example.org", "evil@example.org"),
        ('"Pérez, Ana" <ana@example.org>', "Pérez, Ana", "ana@example.org"),
        ("Ana María <ana@example.org>", "Ana María", "ana@example.org"),
        ("ana@example.org (Ana)", "Ana", "ana@example.org"),
        ("  ana@example.org  ", "", "ana@example.org"),
        ("José <jose@exámple.com>", "José", "jose@exámple.com"),
        ("josé@exámple.com", "", "josé@exámple.com"),
    ],
)
def test_one_address_in_any_of_its_forms_is_accepted(value: str, name: str, addr: str) -> None:
    parsed = parse_address(value, "to")
    assert (parsed.name, parsed.addr_spec) == (name, addr)
    assert len(prepare(Message(from_email="s@example.com", to=value, text="x")).recipients) == 1


def test_a_list_gives_one_recipient_per_item() -> None:
    prepared = prepare(Message(from_email="s@example.com", to=["Ana <ana@example.org>", "bo@example.org"],
                               cc=["cy@example.org"], text="x"))
    assert prepared.recipients == ["ana@example.org", "bo@example.org", "cy@example.org"]
