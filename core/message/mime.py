"""The MIME seam: turns resolved headers, bodies and attachments into the bytes sent after DATA.

This is the one serialization seam of the library (see :func:`serialize`): the transports only
ever see bytes, so the writer can be replaced without touching the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage

from . import fastmime
from .addresses import ParsedAddress, idna_domain
from .categories import CATEGORY_HEADER
from .model import Attachment, Headers


def _header_address(address: ParsedAddress, smtputf8: bool) -> Address:
    domain = address.domain if smtputf8 else idna_domain(address.domain)
    return Address(address.name, address.local_part, domain)


def _cte(body: str) -> str:
    """7bit for short ASCII lines, else quoted-printable; lines break only at CR and LF."""
    if body.isascii() and all(len(line) <= 998 for line in body.encode("ascii").splitlines()):
        return "7bit"
    return "quoted-printable"


def build_email_message(headers: Headers, text: str | None, html: str | None,
                        attachments: Sequence[Attachment], *, charset: str | None = None,
                        alternatives: Sequence[tuple[str, str]] = ()) -> EmailMessage:
    """The message as a standard-library :class:`~email.message.EmailMessage` (the body parts in
    ``charset``, UTF-8 by default; ``alternatives`` after the text and HTML parts)."""
    pol = policy.SMTPUTF8 if headers.smtputf8 else policy.SMTP
    msg = EmailMessage(policy=pol)
    utf8 = headers.smtputf8
    msg["From"] = _header_address(headers.from_, utf8)
    if headers.to:
        msg["To"] = [_header_address(a, utf8) for a in headers.to]
    if headers.cc:
        msg["Cc"] = [_header_address(a, utf8) for a in headers.cc]
    if headers.reply_to:
        msg["Reply-To"] = [_header_address(a, utf8) for a in headers.reply_to]
    msg["Subject"] = headers.subject
    msg["Date"] = headers.date
    msg["Message-ID"] = headers.message_id
    if headers.category is not None:
        msg[CATEGORY_HEADER] = headers.category
    for name, value in headers.extra:
        msg[name] = value
    # Non-ASCII bodies go quoted-printable: 8bit would need BODY=8BITMIME from every hop.
    cs = charset or "utf-8"
    bodies = [("plain", text)] if text or (text is not None and not html) else []
    bodies += [("html", html)] if html else []
    bodies += list(alternatives)
    for index, (subtype, content) in enumerate(bodies):
        write = msg.set_content if index == 0 else msg.add_alternative
        write(content, subtype=subtype, charset=cs, cte=_cte(content))
    inline = [a for a in attachments if a.content_id]
    if inline:
        html_part = msg.get_body(("html",))
        assert html_part is not None  # checked by resolve_headers
        for attachment in inline:
            data, maintype, subtype = attachment.read()
            cid = attachment.content_id or ""
            html_part.add_related(data, maintype, subtype, cid=f"<{cid.strip('<>')}>",
                                  filename=attachment.filename, disposition="inline")
    for attachment in attachments:
        if attachment.content_id:
            continue
        data, maintype, subtype = attachment.read()
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=attachment.filename)
    return msg


def serialize(headers: Headers, text: str | None, html: str | None,
              attachments: Sequence[Attachment], *, charset: str | None = None,
              alternatives: Sequence[tuple[str, str]] = ()) -> bytes:
    """The message as bytes with CRLF line endings, ready for DATA (before dot-stuffing).

    The fast writer (:mod:`acumbamail_smtp.message.fastmime`) handles the common message; anything it
    declines (SMTPUTF8, unusual header text or parts) goes through the standard library's writer.
    """
    if charset is None and not alternatives:
        data = fastmime.write(headers, text, html, attachments)
        if data is not None:
            return data
    return serialize_stdlib(headers, text, html, attachments, charset=charset, alternatives=alternatives)


def serialize_stdlib(headers: Headers, text: str | None, html: str | None,
                     attachments: Sequence[Attachment], *, charset: str | None = None,
                     alternatives: Sequence[tuple[str, str]] = ()) -> bytes:
    """The standard library's serialization of the same message (the fallback and the reference)."""
    return build_email_message(headers, text, html, attachments, charset=charset,
                               alternatives=alternatives).as_bytes()
