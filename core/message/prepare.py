"""From a :class:`~acumbamail_smtp.message.model.Message` to what goes on the wire: validate every
field, resolve the defaults, serialize once (:func:`prepare`); or wrap bytes an adapter built itself
(:func:`prepare_raw`). Depends on the model and the MIME writers, never on the configuration: the
defaults come through the small :class:`MessageDefaults` protocol, which ``RelayConfig`` satisfies."""

from __future__ import annotations

import codecs
import functools
import math
import re
import time
from collections.abc import Iterable
from datetime import datetime
from email.utils import format_datetime, formatdate, make_msgid
from typing import Protocol

from ..errors import InvalidMessage, MissingSender
from .addresses import ParsedAddress, idna_domain, parse_address, parse_address_list
from .categories import validate_category
from .mime import serialize
from .model import RESERVED_HEADERS, AddressList, Headers, Message, PreparedMessage


class MessageDefaults(Protocol):
    """What :func:`prepare` takes from a configuration: the sender and category to use when a
    message gives none (``RelayConfig`` and the adapters' settings provide both)."""

    @property
    def default_from(self) -> str | None: ...

    @property
    def default_category(self) -> str | None: ...


def _check_header_value(name: str, value: object) -> str:
    """``value`` as text; a line break or NUL would end the header early, so it is refused."""
    text = str(value)
    if "\r" in text or "\n" in text or "\x00" in text:
        raise InvalidMessage(f"header {name!r} contains a line break or NUL (header injection refused)")
    return text


def _check_header_name(name: str) -> str:
    """``name`` when it is a valid extra header name the library does not write itself."""
    if not name or any(c in name for c in ": \t\r\n") or not name.isascii() or not name.isprintable():
        raise InvalidMessage(f"invalid header name {name!r}")
    if name.lower() in RESERVED_HEADERS:
        raise InvalidMessage(
            f"header {name!r} is set by the library; use the Message field instead"
        )
    return name


@functools.lru_cache(maxsize=64)
def _sender(value: str) -> ParsedAddress:
    """The parsed ``from_email`` (cached: an application sends nearly all from one or two; a
    refusal raises and is not cached)."""
    return parse_address(value, "from_email")


def _addresses(value: AddressList, field_name: str) -> list[ParsedAddress]:
    """The parsed addresses of one field; a problem is an InvalidMessage naming the field."""
    try:
        if value is None or isinstance(value, str):
            return parse_address_list(value, field_name)
        return parse_address_list([str(v) for v in value], field_name)
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None


def resolve_headers(message: Message, config: MessageDefaults | None = None) -> Headers:
    """Validate ``message`` and resolve defaults; raises :class:`InvalidMessage` naming the problem."""
    from_value = message.from_email or (config.default_from if config else None)
    if not from_value:
        raise MissingSender("from_email: no sender given and no default_from configured")
    try:
        sender = _sender(str(from_value))
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    to = _addresses(message.to, "to")
    cc = _addresses(message.cc, "cc")
    bcc = _addresses(message.bcc, "bcc")
    reply_to = _addresses(message.reply_to, "reply_to")
    if not (to or cc or bcc):
        raise InvalidMessage("no recipient: give at least one of to, cc or bcc")
    if message.text is None and message.html is None and not message.alternatives:
        raise InvalidMessage("no body: give text, html or both")  # text="" is an explicitly empty body
    _check_body_options(message)
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
                   category, extra, smtputf8, bcc)


def _date_header(value: datetime | float | None) -> str:
    """The ``Date`` header for ``value`` (now when None); a naive datetime is refused."""
    if value is None:
        return _date_now()
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


#: The Date header last made for "now", keyed by its second and the local time zone.
_now: tuple[tuple[int, tuple[str, str]], str] = ((0, ("", "")), "")


def _date_now() -> str:
    """``formatdate(localtime=True)``, formatted once a second: the header shows no fraction of
    one, so every message prepared within the same second (a batch) shares the text."""
    global _now
    key = (int(time.time()), time.tzname)
    cached = _now
    if cached[0] != key:
        cached = _now = (key, formatdate(key[0], localtime=True))
    return cached[1]


def _msgid_domain(sender: ParsedAddress) -> str:
    """The Message-ID's right-hand side: the sender's domain, in ASCII."""
    return idna_domain(sender.domain)


_SUBTYPE = re.compile(r"[a-z0-9][a-z0-9.+-]{0,63}")


def _check_body_options(message: Message) -> None:
    """The charset must be one Python knows; each alternative a ``text/<subtype>`` with text."""
    if message.charset is not None:
        try:
            codecs.lookup(message.charset)
        except (LookupError, TypeError, ValueError):
            raise InvalidMessage(f"charset: {message.charset!r} is not a known charset") from None
    for subtype, content in message.alternatives:
        if not isinstance(subtype, str) or not _SUBTYPE.fullmatch(subtype) or subtype in ("plain", "html"):
            raise InvalidMessage(f"alternatives: {subtype!r} is not a text subtype (plain and html are "
                                 "the text and html fields)")
        if not isinstance(content, str):
            raise InvalidMessage(f"alternatives: the {subtype!r} part must be text")


def prepare(message: Message, config: MessageDefaults | None = None) -> PreparedMessage:
    """Validate ``message``, resolve defaults and serialize it once, ready for the SMTP exchange."""
    headers = resolve_headers(message, config)
    recipients = _envelopes((*headers.to, *headers.cc, *headers.bcc))
    try:
        data = serialize(headers, message.text, message.html, message.attachments,
                         charset=message.charset, alternatives=message.alternatives)
    except UnicodeEncodeError as exc:
        raise InvalidMessage(f"charset: the body cannot be written in {message.charset!r}: {exc.reason} "
                             f"at {exc.start}") from None
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
    """Wrap bytes that are already a complete message (for adapters that build their own MIME).

    Each recipient is one address; one RCPT per address however often it is listed."""
    try:
        sender = parse_address(envelope_from, "envelope_from")
        rcpts = [parse_address(r, "recipients") for r in recipients]
    except ValueError as exc:
        raise InvalidMessage(str(exc)) from None
    if not rcpts:
        raise InvalidMessage("no recipient")
    return PreparedMessage(None, sender.envelope(), _envelopes(rcpts), data, message_id,
                           category, any(a.needs_smtputf8 for a in (sender, *rcpts)))


def _envelopes(addresses: Iterable[ParsedAddress]) -> list[str]:
    """The envelope form of each address, once each (compared case-insensitively), in order."""
    unique: dict[str, str] = {}
    for address in addresses:
        envelope = address.envelope()
        unique.setdefault(envelope.lower(), envelope)
    return list(unique.values())


