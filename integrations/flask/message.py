"""A Flask-Mail-compatible :class:`Message` (and :class:`Attachment`), translated once per send
into the core's :class:`~acumbamail_smtp.Message`.

Everything Flask-Mail's message carries is either carried over or refused with
:class:`~acumbamail_smtp.InvalidMessage` naming it; nothing is dropped silently. Header injection
raises :class:`BadHeaderError`, as Flask-Mail does (it is also an ``InvalidMessage``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from mimetypes import guess_type
from typing import TYPE_CHECKING, Any

from acumbamail_smtp.errors import InvalidMessage
from acumbamail_smtp.message.addresses import parse_address
from acumbamail_smtp.message.model import Attachment as CoreAttachment
from acumbamail_smtp.message.model import Message as CoreMessage

from .settings import format_address

if TYPE_CHECKING:
    from acumbamail_smtp.result import SendResult

AddressValue = str | tuple[str, str]


class BadHeaderError(InvalidMessage):
    """A line break in the subject, an address or a header (Flask-Mail's ``BadHeaderError``):
    refused before anything is sent, so ``except BadHeaderError:`` keeps working."""

#: Charsets the core's default (UTF-8) already serves: no need to leave the fast writer for them.
_UTF8 = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


class Attachment:
    """A file attached to a :class:`Message`, as in Flask-Mail.

    ``disposition`` is ``"attachment"`` (the default) or ``"inline"``; an inline image needs a
    ``Content-ID`` header (``{"Content-ID": "<logo>"}``), referenced from the HTML as ``cid:logo``.
    """

    def __init__(self, filename: str | None = None, content_type: str | None = None,
                 data: str | bytes | None = None, disposition: str | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if data is None:
            raise InvalidMessage(f"attachment {filename!r}: data is required")
        if content_type is None and filename is not None:
            content_type = guess_type(filename)[0]
        if content_type is None:
            content_type = "text/plain" if isinstance(data, str) else "application/octet-stream"
        self.filename = filename
        self.content_type = content_type
        self.data = data
        self.disposition = disposition or "attachment"
        self.headers: dict[str, str] = dict(headers or {})

    def __repr__(self) -> str:
        return f"Attachment(filename={self.filename!r}, content_type={self.content_type!r})"


class Message:
    """One e-mail, with Flask-Mail's constructor and attributes plus ``category``.

    ``sender`` defaults to ``ACUMBAMAIL_DEFAULT_SENDER`` / ``MAIL_DEFAULT_SENDER``: when built in
    an application context (as Flask-Mail does), else when sent (so no app context is needed to
    build one); a ``(name, address)`` pair becomes ``"name <address>"``. Sending sets ``sender``
    and ``date`` when they are unset, ``send_result`` (the :class:`~acumbamail_smtp.SendResult`)
    and ``msgId`` (the Message-ID that was used).
    """

    def __init__(self, subject: str = "", recipients: Iterable[AddressValue] | str | None = None,
                 body: str | None = None, html: str | None = None,
                 alts: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
                 sender: AddressValue | None = None, cc: Iterable[AddressValue] | str | None = None,
                 bcc: Iterable[AddressValue] | str | None = None,
                 attachments: list[Attachment | CoreAttachment] | None = None,
                 reply_to: AddressValue | None = None, date: float | datetime | None = None,
                 charset: str | None = None, extra_headers: Mapping[str, str] | None = None,
                 mail_options: list[str] | None = None, rcpt_options: list[str] | None = None,
                 *, category: str | None = None) -> None:
        self.subject = subject
        self.recipients: list[AddressValue] = _list(recipients)
        self.body = body
        self.html = html
        self.alts: dict[str, str] = dict(alts or {})
        self.sender: str | None = _sender(sender)
        self.cc: list[AddressValue] = _list(cc)
        self.bcc: list[AddressValue] = _list(bcc)
        self.attachments: list[Attachment | CoreAttachment] = list(attachments or [])
        self.reply_to = reply_to
        self.date = date
        self.charset = charset
        self.extra_headers: dict[str, str] | None = dict(extra_headers) if extra_headers else None
        self.mail_options: list[str] = list(mail_options or [])
        self.rcpt_options: list[str] = list(rcpt_options or [])
        self.category = category
        self.msgId: str | None = None
        self.send_result: SendResult | None = None

    def __repr__(self) -> str:
        return (f"Message(subject={self.subject!r}, recipients={self.recipients!r}, "
                f"category={self.category!r})")

    @property
    def send_to(self) -> set[AddressValue]:
        """Every recipient: ``recipients``, ``cc`` and ``bcc``."""
        return {*self.recipients, *self.cc, *self.bcc}

    def add_recipient(self, recipient: AddressValue) -> None:
        """Add one address to ``recipients``."""
        self.recipients.append(recipient)

    def attach(self, filename: str | None = None, content_type: str | None = None,
               data: str | bytes | None = None, disposition: str | None = None,
               headers: Mapping[str, str] | None = None) -> None:
        """Attach ``data`` as ``filename`` (Flask-Mail's signature)."""
        self.attachments.append(Attachment(filename, content_type, data, disposition, headers))

    def has_bad_headers(self) -> bool:
        """Whether a line break is in the subject (other than folding), an address or a header
        value (Flask-Mail's check, extended to cc, bcc and ``extra_headers``)."""
        return self._bad_header() is not None

    def _bad_header(self) -> str | None:
        """The first field holding a line break that would inject a header, or None."""
        reply_to = self.reply_to if isinstance(self.reply_to, list) else [self.reply_to]
        fields: list[tuple[str, Any]] = [
            ("sender", self.sender), *(("recipients", v) for v in self.recipients),
            *(("cc", v) for v in self.cc), *(("bcc", v) for v in self.bcc),
            *(("reply_to", v) for v in reply_to), *(self.extra_headers or {}).items()]
        for name, value in fields:
            parts = value if isinstance(value, tuple | list) else [value]
            if any(_has_newline(str(part)) for part in parts if part is not None):
                return name
        subject = self.subject or ""
        if _has_newline(subject) and any(
                not line.strip() or _has_newline(line) or (n > 0 and line[0] not in "\t ")
                for n, line in enumerate(subject.split("\r\n"))):
            return "subject"
        return None

    def to_core(self, *, ascii_attachments: bool = False) -> CoreMessage:
        """This message as the core's :class:`~acumbamail_smtp.Message`; raises
        :class:`BadHeaderError` for header injection and :class:`InvalidMessage` for what the
        core cannot carry. ``ascii_attachments`` (``MAIL_ASCII_ATTACHMENTS``) strips attachment
        file names to ASCII, as Flask-Mail does."""
        bad = self._bad_header()
        if bad is not None:
            raise BadHeaderError(f"{bad}: contains a line break (header injection refused)")
        for name, options in (("mail_options", self.mail_options), ("rcpt_options", self.rcpt_options)):
            if options:
                raise InvalidMessage(f"{name}: custom ESMTP options are not supported (the transport "
                                     "sets SIZE, SMTPUTF8 and 8BITMIME itself)")
        text, html = self.body, self.html
        alternatives: list[tuple[str, str]] = []
        for subtype, content in self.alts.items():
            if subtype == "html" and html in (None, content):
                html = content
            elif subtype == "plain" and text in (None, content):
                text = content
            else:
                alternatives.append((subtype, content))  # Flask-Mail's other text/<subtype> parts
        headers = dict(self.extra_headers or {})
        if text is None and html is None and self.attachments:
            text = ""  # Flask-Mail sends an attachment without a body as an empty text part
        if self.msgId and not any(k.lower() == "message-id" for k in headers):
            headers["Message-ID"] = self.msgId
        return CoreMessage(
            from_email=_address(self.sender, "sender") if self.sender else None,
            to=_addresses(self.recipients, "recipients"),
            subject=self.subject or "",
            text=text,
            html=html,
            cc=_addresses(self.cc, "cc"),
            bcc=_addresses(self.bcc, "bcc"),
            reply_to=_reply_to(self.reply_to),
            attachments=[_attachment(a, i, ascii_attachments) for i, a in enumerate(self.attachments, 1)],
            headers=headers,
            category=self.category,
            date=self.date,
            charset=None if self.charset is None or self.charset.strip().lower() in _UTF8 else self.charset,
            alternatives=alternatives,
        )


def _has_newline(text: str) -> bool:
    return "\r" in text or "\n" in text


def _sender(value: AddressValue | None) -> str | None:
    """Flask-Mail's sender: a pair becomes ``"Name <addr>"``; none is the app's default sender
    when built in an application context set up with the extension (as Flask-Mail does)."""
    if value is None or value == "":
        value = _default_sender()
    if isinstance(value, tuple | list):
        try:
            return format_address(tuple(value), "sender")
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from None
    return value


def _default_sender() -> str | None:
    from flask import current_app, has_app_context

    if not has_app_context():
        return None
    state = current_app.extensions.get("acumbamail")
    settings = getattr(state, "settings", None)
    if settings is None:
        return None
    default: str | None = settings(current_app._get_current_object()).relay.default_from  # type: ignore[attr-defined]
    return default


_SPACES = re.compile(r"\s+")


def ascii_filename(name: str) -> str:
    """``name`` reduced to ASCII as ``MAIL_ASCII_ATTACHMENTS`` does in Flask-Mail."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", text).strip()


def _list(value: Iterable[AddressValue] | str | None) -> list[AddressValue]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _address(value: Any, field: str) -> str:
    """One address as text, checked here so that an error names Flask-Mail's field."""
    try:
        text = format_address(value, field)
        parse_address(text, field)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    return text


def _addresses(values: list[AddressValue], field: str) -> list[str]:
    return [_address(v, field) for v in values]


def _reply_to(value: Any) -> list[str] | None:
    """Flask-Mail's one reply-to address (text or a pair), or a list of them."""
    if not value:
        return None
    if isinstance(value, list):
        return _addresses(value, "reply_to")
    return [_address(value, "reply_to")]


def _attachment(item: Any, index: int, ascii_names: bool = False) -> CoreAttachment:
    """A core attachment from Flask-Mail's kind (ours or ``flask_mail.Attachment``) or a core one."""
    if isinstance(item, CoreAttachment):
        return item
    if not all(hasattr(item, a) for a in ("filename", "content_type", "data", "disposition")):
        raise InvalidMessage(f"attachment {index}: expected an Attachment, got {type(item).__name__}")
    where = f"attachment {item.filename or index!r}"
    content_id: str | None = None
    for name, value in dict(getattr(item, "headers", None) or {}).items():
        if name.lower() != "content-id":
            raise InvalidMessage(f"{where}: header {name!r} is not supported (only Content-ID)")
        content_id = str(value).strip().removeprefix("<").removesuffix(">")
    disposition = (item.disposition or "attachment").lower()
    if disposition not in ("attachment", "inline"):
        raise InvalidMessage(f"{where}: disposition {item.disposition!r} is not supported "
                             "(attachment or inline)")
    if disposition == "inline" and not content_id:
        raise InvalidMessage(f"{where}: an inline attachment needs a Content-ID header, "
                             "referenced from the HTML as cid:<id>")
    if item.data is None:
        raise InvalidMessage(f"{where}: data is required")
    filename = ascii_filename(item.filename) if ascii_names and item.filename else item.filename
    return CoreAttachment(item.data, filename, item.content_type, content_id)


def to_core_message(message: Message | CoreMessage, *, ascii_attachments: bool = False) -> CoreMessage:
    """The core message for ``message`` (ours, or already a core one)."""
    if isinstance(message, CoreMessage):
        return message
    if isinstance(message, Message):
        return message.to_core(ascii_attachments=ascii_attachments)
    raise InvalidMessage(f"expected an acumbamail_smtp Message, got {type(message).__name__}")
