"""A body charset other than UTF-8 and alternatives beyond text and HTML (what Flask-Mail's
``charset`` and ``alts`` carry): written by the standard library's writer, refused when wrong."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest
from acumbamail_smtp import InvalidMessage, Message
from acumbamail_smtp.message import prepare


def _parsed(message: Message):  # type: ignore[no-untyped-def]
    return BytesParser(policy=policy.default).parsebytes(prepare(message).data)


def base(**fields: object) -> Message:
    return Message(from_email="shop@example.com", to="ana@example.org", subject="Olé", **fields)  # type: ignore[arg-type]


def test_the_body_is_written_in_the_charset() -> None:
    email = _parsed(base(text="Olé café", charset="iso-8859-1"))
    assert email.get_content_charset() == "iso-8859-1"
    assert email.get_payload(decode=True).rstrip(b"\r\n") == "Olé café".encode("iso-8859-1")
    assert str(email["Subject"]) == "Olé"  # headers stay RFC 2047 UTF-8


def test_alternatives_follow_text_and_html_in_order() -> None:
    email = _parsed(base(text="t", html="<p>h</p>", alternatives=[("x-amp-html", "<p>amp</p>")]))
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html", "text/x-amp-html"]


@pytest.mark.parametrize(("fields", "named"), [
    ({"text": "x", "charset": "no-such-charset"}, "charset"),
    ({"text": "日本", "charset": "iso-8859-1"}, "charset"),
    ({"text": "x", "alternatives": [("html", "<p>again</p>")]}, "alternatives"),
    ({"text": "x", "alternatives": [("not a subtype", "y")]}, "alternatives"),
])
def test_what_cannot_be_written_is_refused_before_sending(fields: dict[str, object], named: str) -> None:
    with pytest.raises(InvalidMessage, match=named):
        prepare(base(**fields))


def test_the_default_stays_on_the_fast_writer() -> None:
    # no charset and no alternatives: byte-identical to before (UTF-8, the fast writer)
    assert b'charset="utf-8"' in prepare(base(text="Olé")).data
