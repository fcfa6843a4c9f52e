"""Messages: what the application fills in (:class:`Message`) and what goes on the wire
(:class:`PreparedMessage`, made once by :func:`prepare`, which validates everything first)."""

from __future__ import annotations

import math
import mimetypes
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import format_datetime, formatdate, make_msgid
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ..errors import InvalidMessage
from .addresses import ParsedAddress, parse_address, parse_address_list
from .categories import CATEGORY_HEADER, validate_category

if TYPE_CHECKING:
    from ..config import RelayConfig
    from ..result import SendResult

AddressList = str | Sequence[str] | None
#: Headers the library writes itself; setting them through ``headers`` is refused.
RESERVED_HEADERS = frozenset(
    {"bcc", "content-type", "content-transfer-encoding", "mime-version", "from", "to", "cc",
     "subject", "date", "reply-to", "return-path", CATEGORY_HEADER.lower()}
)


@dataclass(slots=True)
class Attachment:
    """A file to attach: ``content`` is bytes, text, a path, or a binary file object.

    With ``content_id`` set it is an inline image referenced from the HTML as ``cid:<content_id>``.
    """

    content: bytes | str | os.PathLike[str] | IO[bytes]
    filename: str | None = None
    mimetype: str | None = None
    content_id: str | None = None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], *, mimetype: str | None = None,
                  content_id: str | None = None, filename: str | None = None) -> Attachment:
        """Attach the file at ``path`` (read when the message is prepared)."""
        return cls(Path(path), filename or Path(path).name, mimetype, content_id)

    def read(self) -> tuple[bytes, str, str]:
        """Return ``(data, maintype, subtype)``; text content is encoded as UTF-8."""
        content = self.content
        filename = self.filename
        if isinstance(content, os.PathLike):
            try:
                data = Path(content).read_bytes()
            except OSError as exc:
                raise InvalidMessage(
                    f"attachment {os.fspath(content)!r} cannot be read: {exc.strerror}"
                ) from exc
            filename = filename or Path(content).name
        elif isinstance(content, bytes | bytearray | memoryview):
            data = bytes(content)
        elif isinstance(content, str):
            data = content.encode("utf-8")
        elif hasattr(content, "read"):
            raw: Any = content.read()
            data = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        else:
            raise InvalidMessage(f"attachment content of type {type(content).__name__} is not supported")
        mimetype = self.mimetype
        if mimetype is None:
            guessed = mimetypes.guess_type(filename or "")[0]
            mimetype = guessed or ("text/plain" if isinstance(content, str) else "application/octet-stream")
        maintype, _, subtype = mimetype.partition("/")
        if not maintype or not subtype or "\n" in mimetype or "\r" in mimetype:
            raise InvalidMessage(f"attachment {filename!r}: invalid MIME type {mimetype!r}")
        return data, maintype, subtype


@dataclass(slots=True, eq=False)
class Message:
    """One e-mail to send. Addresses may be ``"Name <addr>"``; lists may be one string.

    ``category`` becomes the ``ACUMBAMAIL-SMTPAPI`` header. After sending, ``send_result`` holds
    the :class:`~acumbamail_smtp.SendResult`.
    """

    from_email: str | None = None
    to: AddressList = None
    subject: str = ""
    text: str | None = None
    html: str | None = None
    cc: AddressList = None
    bcc: AddressList = None
    reply_to: AddressList = None
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    category: str | None = None
    #: The ``Date`` header (an aware datetime, or a Unix time); now when not given.
    date: datetime | float | None = None
    send_result: SendResult | None = field(default=None, compare=False)

    def attach(self, content: bytes | str | os.PathLike[str] | IO[bytes], filename: str | None = None,
               mimetype: str | None = None, *, content_id: str | None = None) -> Attachment:
        """Add an attachment (or an inline image when ``content_id`` is given) and return it."""
        attachment = Attachment(content, filename, mimetype, content_id)
        self.attachments.append(attachment)
        return attachment

    def attach_file(self, path: str | os.PathLike[str], mimetype: str | None = None, *,
                    content_id: str | None = None) -> Attachment:
        """Attach the file at ``path``."""
        attachment = Attachment.from_path(path, mimetype=mimetype, content_id=content_id)
        self.attachments.append(attachment)
        return attachment

    def recipients(self) -> list[str]:
        """Every envelope recipient (to, cc and bcc), as given."""
        return [str(a) for a in (*_as_list(self.to), *_as_list(self.cc), *_as_list(self.bcc))]


@dataclass(slots=True)
class PreparedMessage:
    """A validated message, serialized once: the envelope and the bytes for DATA."""

    source: Message | None
    envelope_from: str
    recipients: list[str]
    data: bytes
    message_id: str
    category: str | None
    smtputf8: bool = False
    #: recipients skipped because they are suppressed (filled in by the mailer)
    suppressed: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Headers:
    """The resolved header values of a message, handed to the MIME writer."""

    from_: ParsedAddress
    to: list[ParsedAddress]
    cc: list[ParsedAddress]
    reply_to: list[ParsedAddress]
    subject: str
    date: str
    message_id: str
    category: str | None
    extra: list[tuple[str, str]]
    smtputf8: bool


def _as_list(value: AddressList) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _check_header_value(name: str, value: object) -> str:
    text = str(value)
    if "\r" in text or "\n" in text or "\x00" in text:
        raise InvalidMessage(f"header {name!r} contains a line break or NUL (header injection refused)")
    return text


def _check_header_name(name: str) -> str:
    if not name or any(c in name for c in ": \t\r\n") or not name.isascii() or not name.isprintable():
        raise InvalidMessage(f"invalid header name {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise InvalidMessage(
            f"header {name!r} is set by the library; use the Message field instead"
        )
    return name


def _addresses(value: AddressList, field_name: str) -> list[ParsedAddress]:
    try:
        if value is None or isinstance(value, str):
            return parse_address_list(value, field_name)
        return parse_address_list([str(v) for v in value], field_name)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None


def resolve_headers(message: Message, config: RelayConfig | None = None) -> Headers:
    """Validate ``message`` and resolve defaults; raises :class:`InvalidMessage` naming the problem."""
    from_value = message.from_email or (config.default_from if config else None)
    if not from_value:
        raise InvalidMessage("from_email: no sender given and no default_from configured")
    try:
        sender = parse_address(str(from_value), "from_email")
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    to = _addresses(message.to, "to")
    cc = _addresses(message.cc, "cc")
    bcc = _addresses(message.bcc, "bcc")
    reply_to = _addresses(message.reply_to, "reply_to")
    if not (to or cc or bcc):
        raise InvalidMessage("no recipient: give at least one of to, cc or bcc")
    if message.text is None and message.html is None:  # text="" is an explicitly empty body
        raise InvalidMessage("no body: give text, html or both")
    subject = _check_header_value("Subject", message.subject or "")
    category = message.category if message.category is not None else (
        config.default_category if config else None)
    if category is not None:
        try:
            category = validate_category(str(category))
        except ValueError as exc:
            raise InvalidMessage(str(exc)) from None
    extra: list[tuple[str, str]] = []
    message_id: str | None = None
    for name, value in message.headers.items():
        if name.lower() == "message-id":
            message_id = _check_header_value(name, value).strip()
            if not (message_id.startswith("<") and message_id.endswith(">") and "@" in message_id
                    and " " not in message_id):
                raise InvalidMessage(f"header 'Message-ID' must look like <id@domain>, got {message_id!r}")
            continue
        extra.append((_check_header_name(name), _check_header_value(name, value)))
    if any(a.content_id for a in message.attachments) and not message.html:
        raise InvalidMessage("inline images (content_id) need an html body")
    for attachment in message.attachments:
        if attachment.filename is not None:
            _check_header_value("attachment filename", attachment.filename)
        if attachment.content_id is not None:
            _check_header_value("attachment content_id", attachment.content_id)
    if message_id is None:
        message_id = make_msgid(domain=_msgid_domain(sender))
    smtputf8 = any(a.needs_smtputf8 for a in (sender, *to, *cc, *bcc, *reply_to))
    return Headers(sender, to, cc, reply_to, subject, _date_header(message.date), message_id,
                   category, extra, smtputf8)


def _date_header(value: datetime | float | None) -> str:
    """The ``Date`` header for ``value`` (now when None); a naive datetime is refused."""
    if value is None:
        return formatdate(localtime=True)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidMessage("date: give an aware datetime (with a time zone) or a Unix time")
        return format_datetime(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidMessage(f"date: expected a datetime or a Unix time, got {value!r}")
    try:
        return formatdate(value, localtime=True)
    except (OverflowError, OSError, ValueError):
        raise InvalidMessage(f"date: {value!r} is out of range") from None


def _msgid_domain(sender: ParsedAddress) -> str:
    from .addresses import idna_domain

    return idna_domain(sender.domain)


def prepare(message: Message, config: RelayConfig | None = None) -> PreparedMessage:
    """Validate ``message``, resolve defaults and serialize it once, ready for the SMTP exchange."""
    from .mime import serialize

    headers = resolve_headers(message, config)
    bcc = _addresses(message.bcc, "bcc")
    recipients: list[str] = []
    seen: set[str] = set()
    for address in (*headers.to, *headers.cc, *bcc):
        envelope = address.envelope()
        key = envelope.lower()
        if key not in seen:
            seen.add(key)
            recipients.append(envelope)
    try:
        data = serialize(headers, message.text, message.html, message.attachments)
    except (ValueError, TypeError) as exc:  # the email package's own refusals
        if isinstance(exc, InvalidMessage):
            raise
        raise InvalidMessage(f"the message cannot be written as MIME: {exc}") from exc
    return PreparedMessage(
        source=message,
        envelope_from=headers.from_.envelope(),
        recipients=recipients,
        data=data,
        message_id=headers.message_id,
        category=headers.category,
        smtputf8=headers.smtputf8,
    )


def prepare_raw(data: bytes, envelope_from: str, recipients: Iterable[str], *,
                message_id: str = "", category: str | None = None) -> PreparedMessage:
    """Wrap bytes that are already a complete message (for adapters that build their own MIME)."""
    try:
        sender = parse_address(envelope_from, "envelope_from")
        rcpts = [parse_address(r, "recipients") for r in recipients]
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    if not rcpts:
        raise InvalidMessage("no recipient")
    return PreparedMessage(None, sender.envelope(), [r.envelope() for r in rcpts], data, message_id,
                           category, any(a.needs_smtputf8 for a in (sender, *rcpts)))


def message_from_mapping(values: Mapping[str, Any]) -> Message:
    """Build a :class:`Message` from a mapping of its field names (used by adapters and the CLI)."""
    return Message(**dict(values))
