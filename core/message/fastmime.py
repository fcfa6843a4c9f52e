"""A fast MIME writer for the common message: bytes with CRLF built directly, no ``email`` objects.

It covers what applications send (text and/or HTML, inline images, attachments, ASCII addresses
with any display name) and returns ``None`` for anything unusual (SMTPUTF8, exotic parts, header
text it cannot encode simply), so :mod:`acumbamail_smtp.message.mime` can fall back to the standard
library's writer. Encodings only where needed: RFC 2047 for non-ASCII header text, folded lines;
quoted-printable for non-ASCII or over-long body lines, 7bit otherwise; base64 for attachments.
Every line ends CRLF and stays within 998 octets (RFC 5322). Dot-stuffing is left to the exchange.
"""

from __future__ import annotations

import binascii
import functools
import os
import re
from collections.abc import Sequence
from urllib.parse import quote

from .addresses import ParsedAddress, idna_domain
from .categories import CATEGORY_HEADER
from .model import Attachment, Headers

#: Lines are folded at this length where the text allows; never longer than MAX_LINE.
FOLD_AT = 78
MAX_LINE = 998
#: Raw bytes per RFC 2047 "B" encoded word: 45 bytes -> 60 base64 chars -> 72-char word.
_WORD_BYTES = 45

_ATEXT = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_DOT_ATOM = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")
#: A display name that can go unquoted: atoms separated by single spaces.
_PLAIN_PHRASE = re.compile(r"[A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+(?: [A-Za-z0-9!#$%&'*+\-/?^_`{|}~]+)*")
_CID = re.compile(r"[\x21-\x7e]+")
#: Extra header names the standard library parses as structured: those go through its writer.
_STRUCTURED = frozenset({
    "sender", "resent-sender", "resent-from", "resent-to", "resent-cc", "resent-bcc", "resent-date",
    "orig-date", "reply-to", "content-disposition", "message-id", "resent-message-id",
})
_TEXT_TYPE = {"plain": b'Content-Type: text/plain; charset="utf-8"\r\n',
              "html": b'Content-Type: text/html; charset="utf-8"\r\n'}
_CTE_7BIT = b"Content-Transfer-Encoding: 7bit\r\n"
_CTE_QP = b"Content-Transfer-Encoding: quoted-printable\r\n"
_CTE_B64 = b"Content-Transfer-Encoding: base64\r\n"

Part = tuple[bytes, bytes]  # (header block ending CRLF, body ending CRLF)


class Unsupported(Exception):
    """Raised inside the writer when the message needs the standard library's writer."""


def encoded_words(text: str, first: int = _WORD_BYTES) -> list[str]:
    """``text`` as RFC 2047 "B" encoded words of at most 72 characters, never splitting a character.

    ``first`` caps the bytes of the first word, so it fits on the line after the header name."""
    words: list[str] = []
    chunk: list[bytes] = []
    size = 0
    limit = max(first, 3)
    for char in text:
        raw = char.encode("utf-8")
        if size + len(raw) > limit and chunk:
            words.append(_word(b"".join(chunk)))
            chunk, size, limit = [], 0, _WORD_BYTES
        chunk.append(raw)
        size += len(raw)
    if chunk:
        words.append(_word(b"".join(chunk)))
    return words


def _word(raw: bytes) -> str:
    return "=?utf-8?b?" + binascii.b2a_base64(raw, newline=False).decode("ascii") + "?="


def _fold(name: str, pieces: Sequence[str], sep: str) -> bytes:
    """``Name: piece<sep>piece...`` folded before a piece when the line would pass FOLD_AT."""
    line = f"{name}: {(sep + ' ').join(pieces)}"
    if len(line) <= FOLD_AT:  # the loop below would not fold it either
        return (line + "\r\n").encode("ascii")
    out = [name, ":"]
    length = len(name) + 1
    for i, piece in enumerate(pieces):
        glue = (sep + " ") if i else " "
        if i and length + len(glue) + len(piece) > FOLD_AT:
            out.append(sep + "\r\n ")
            length = 1
        else:
            out.append(glue)
            length += len(glue)
        out.append(piece)
        length += len(piece)
        if length > MAX_LINE:
            raise Unsupported(name)
    out.append("\r\n")
    return "".join(out).encode("ascii")


def unstructured(name: str, value: str) -> bytes:
    """One unstructured header (Subject, category, extras), encoded only when it must be."""
    if not value:
        return f"{name}: \r\n".encode("ascii")
    words = value.split(" ")
    if (value.isascii() and value.isprintable() and "=?" not in value and "" not in words
            and max(map(len, words)) <= MAX_LINE - len(name) - 2):
        # Folding inserts CRLF before an existing space, so unfolding gives back the same text.
        return _fold(name, words, "")
    room = (FOLD_AT - len(name) - 2 - 12) // 4 * 3  # raw bytes whose encoded word fits the first line
    return _fold(name, encoded_words(value, room), "")


@functools.lru_cache(maxsize=1024)
def mailbox(name: str, addr_spec: str) -> str:
    """One mailbox for an address header (cached, with its checks: senders repeat). Raises
    Unsupported when unusual, or when a line of it leaves no room on a header line."""
    box = _mailbox(name, addr_spec)
    if any(len(line) > MAX_LINE - 80 for line in box.split("\r\n")):
        raise Unsupported("mailbox too long")
    return box


def _mailbox(name: str, addr_spec: str) -> str:
    local, _, domain = addr_spec.rpartition("@")
    if not _DOT_ATOM.fullmatch(local):
        raise Unsupported("local part needs quoting")
    spec = f"{local}@{idna_domain(domain)}"
    if not name:
        return spec
    if name != name.strip() or "=?" in name or "  " in name or not name.replace(" ", "x").isprintable():
        # The parser collapses whitespace runs inside encoded words: leave those to the stdlib.
        raise Unsupported("display name")
    if name.isascii():
        if _PLAIN_PHRASE.fullmatch(name):
            return f"{name} <{spec}>"
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{spec}>'
    words = encoded_words(name)
    if len(words) > 1:
        # Python's parser keeps the folding space between encoded words in a phrase, where RFC 2047
        # drops it: no encoding reads back the same everywhere, so long names take the stdlib path.
        raise Unsupported("long non-ASCII display name")
    return f"{words[0]} <{spec}>"


def _address_header(name: str, addresses: Sequence[ParsedAddress]) -> bytes:
    """``Name: mailbox, mailbox...``, folded between mailboxes."""
    return _fold(name, [mailbox(a.name, a.addr_spec) for a in addresses], ",")


def _text_part(subtype: str, body: str) -> Part:
    """A text part. Only CR, LF and CRLF break lines (``bytes.splitlines``, as the standard
    library's writer does): form feed, NEL, U+2028 and the like are text and stay in it."""
    lines = body.encode("utf-8").splitlines()
    if body.isascii() and max(map(len, lines), default=0) <= MAX_LINE:
        lines.append(b"")
        return _TEXT_TYPE[subtype] + _CTE_7BIT, b"\r\n".join(lines)
    lines.append(b"")
    encoded = binascii.b2a_qp(b"\n".join(lines), istext=True)
    return _TEXT_TYPE[subtype] + _CTE_QP, encoded.replace(b"\n", b"\r\n")


def _param(key: str, value: str) -> str:
    if value.isascii() and value.isprintable():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'; {key}="{escaped}"'
    return f"; {key}*=utf-8''{quote(value, safe='')}"


def _attachment_part(attachment: Attachment) -> Part:
    data, maintype, subtype = attachment.read()
    ctype = f"{maintype}/{subtype}"
    if maintype.lower() in ("multipart", "message") or not ctype.isascii() or not ctype.isprintable() \
            or " " in ctype or ";" in ctype:
        raise Unsupported(ctype)
    if attachment.content_id:
        cid = attachment.content_id.strip("<>")
        if not _CID.fullmatch(cid):
            raise Unsupported("content id")
        disposition = "inline"
    else:
        disposition = "attachment"
    lines = [f"Content-Type: {ctype}\r\n", "Content-Transfer-Encoding: base64\r\n"]
    disposition_line = "Content-Disposition: " + disposition
    if attachment.filename:
        disposition_line += _param("filename", attachment.filename)
    if len(disposition_line) > MAX_LINE:
        raise Unsupported("filename")
    lines.append(disposition_line + "\r\n")
    if attachment.content_id:
        lines.append(f"Content-ID: <{cid}>\r\n")
    body = binascii.b2a_base64(data, newline=False) if len(data) <= 57 else None
    if body is not None:
        encoded = body + b"\r\n" if data else b""
    else:
        encoded = b"".join(binascii.b2a_base64(data[i:i + 57], newline=False) + b"\r\n"
                           for i in range(0, len(data), 57))
    return "".join(lines).encode("ascii"), encoded


def _boundary() -> str:
    return "=_acumbamail_" + os.urandom(12).hex()


def _multipart(subtype: str, parts: list[Part]) -> Part:
    boundary = _boundary()
    marker = b"--" + boundary.encode("ascii")
    if any(marker in body for _, body in parts):
        boundary = _boundary()
        marker = b"--" + boundary.encode("ascii")
        if any(marker in body for _, body in parts):  # pragma: no cover - astronomically unlikely
            raise Unsupported("boundary")
    chunks = []
    for head, body in parts:
        chunks += [marker, b"\r\n", head, b"\r\n", body, b"\r\n"]
    chunks += [marker, b"--\r\n"]
    head = f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n'.encode("ascii")
    return head, b"".join(chunks)


def write(headers: Headers, text: str | None, html: str | None,
          attachments: Sequence[Attachment]) -> bytes | None:
    """The message as bytes with CRLF line endings, or ``None`` when the stdlib writer must do it."""
    if headers.smtputf8:
        return None
    try:
        return _write(headers, text, html, attachments)
    except (Unsupported, UnicodeError):
        return None


def _write(headers: Headers, text: str | None, html: str | None,
           attachments: Sequence[Attachment]) -> bytes:
    head = [_address_header("From", [headers.from_])]
    if headers.to:
        head.append(_address_header("To", headers.to))
    if headers.cc:
        head.append(_address_header("Cc", headers.cc))
    if headers.reply_to:
        head.append(_address_header("Reply-To", headers.reply_to))
    head.append(unstructured("Subject", headers.subject))
    head.append(f"Date: {headers.date}\r\n".encode("ascii"))
    message_id = headers.message_id
    if not (message_id.isascii() and message_id.isprintable()) or len(message_id) > MAX_LINE - 20:
        raise Unsupported("Message-ID")
    head.append(f"Message-ID: {message_id}\r\n".encode("ascii"))
    if headers.category is not None:
        head.append(unstructured(CATEGORY_HEADER, headers.category))
    for name, value in headers.extra:
        if name.lower() in _STRUCTURED or len(name) > 200:
            raise Unsupported(name)
        head.append(unstructured(name, value))
    head.append(b"MIME-Version: 1.0\r\n")

    body: Part
    text_part = _text_part("plain", text) if text or (text is not None and not html) else None
    html_part = _text_part("html", html) if html else None
    inline = [_attachment_part(a) for a in attachments if a.content_id]
    if inline:
        assert html_part is not None  # resolve_headers refuses inline images without html
        html_part = _multipart("related", [html_part, *inline])
    if text_part is not None and html_part is not None:
        body = _multipart("alternative", [text_part, html_part])
    else:
        body = text_part or html_part  # type: ignore[assignment]
    files = [_attachment_part(a) for a in attachments if not a.content_id]
    if files:
        body = _multipart("mixed", [body, *files])
    return b"".join(head) + body[0] + b"\r\n" + body[1]
