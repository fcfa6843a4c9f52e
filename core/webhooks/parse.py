"""Reading a webhook body: JSON, form-urlencoded or multipart data, into normalized events.

:func:`parse_events` never drops an item it cannot read fully: it keeps it as an ``unknown``
event, so one bad event never costs the rest of the batch.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.errors import (
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from ..errors import WebhookPayloadError
from ..events import EVENT_NAME_KEYS, Event, EventType, event_id_from_raw, event_type_for, normalize_address

logger = logging.getLogger("acumbamail_smtp.webhooks")

_RECIPIENT_KEYS = ("email", "recipient", "email_address", "to")
_TIMESTAMP_KEYS = ("timestamp", "time", "date", "ts", "event_time")
_MESSAGE_KEY_KEYS = ("email_key", "message_key", "queue_id")
_URL_KEYS = ("url", "link")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts
#: Lone surrogates (a JSON ``\\ud800`` escape) cannot be encoded to store; NUL is refused by
#: PostgreSQL text and jsonb. Both become U+FFFD, so such an event is stored, not retried for ever.
_UNSTORABLE = re.compile("[\ud800-\udfff\x00]")
#: How deep a document (JSON nesting, form ``a[b][c]`` keys, multipart parts) may go. Acumbamail's
#: events are three or four levels deep; the bound keeps every later step far from the recursion limit.
MAX_DEPTH = 32
_MULTIPART_HEADER = re.compile(rb"(?im)^content-type:[ \t]*multipart/")
#: The timestamps we accept: anything outside is not an e-mail event's time, and the edges of the
#: calendar would overflow the date arithmetic of the stores and the suppression policy.
_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)

def parse_events(body: bytes, content_type: str = "") -> list[Event]:
    """The events in a webhook body: JSON (an object keyed "1", "2"..., an array, one event),
    form-urlencoded or multipart/form-data fields (``a[b]`` keys nest; a field may hold a JSON
    document). An item that cannot be fully read is kept as ``EventType.UNKNOWN`` (see
    :func:`_event`), so one bad event never costs the rest of the batch. Raises
    :class:`WebhookPayloadError`, naming what is wrong, only when nothing in the body is usable: it
    is not JSON or form data, or no item of it is an event object."""
    body = bytes(body)  # also takes a bytearray or memoryview
    if not body.strip():
        raise WebhookPayloadError("empty body: expected webhook events as JSON, form or multipart data")
    mime, charset = _content_type(content_type)
    if mime == "multipart/form-data":
        items = _from_fields(_multipart_fields(body, content_type))
    elif mime == "application/x-www-form-urlencoded":
        items = _from_fields(_form_fields(body, charset))
    elif _is_json(mime) or body.lstrip()[:1] in (b"{", b"["):  # sniff a missing or vague type
        items = _event_dicts(_json(_decode(body, charset, "body")))
    elif b"=" in body and mime in ("", "text/plain", "application/octet-stream"):
        items = _from_fields(_form_fields(body, charset))
    else:
        raise WebhookPayloadError(f"unsupported content type {mime!r}: send JSON, form or multipart data")
    if items and not any(isinstance(item, dict) for item in items):
        raise WebhookPayloadError("no item of the body is an event object")
    return [_event_or_unknown(item, index) for index, item in enumerate(items, 1)]


def _event_or_unknown(item: Any, index: int) -> Event:
    """:func:`_event`, and an ``unknown`` event with the item as ``raw`` should reading it fail in
    a way :func:`_event` does not foresee: one odd item never costs the batch."""
    try:
        return _event(item, index)
    except Exception:
        logger.exception("webhook event %d could not be read: stored as 'unknown'", index)
        raw: dict[str, Any] = item if isinstance(item, dict) else {"value": item}
        return Event(type=EventType.UNKNOWN, recipient="", timestamp=datetime.now(UTC),
                     event_id=event_id_from_raw(raw), raw=raw)


def _is_json(mime: str) -> bool:
    return mime in ("application/json", "text/json") or mime.endswith("+json")


def _content_type(value: str) -> tuple[str, str]:
    mime, _, rest = (value or "").partition(";")
    charset = "utf-8"
    for param in rest.split(";"):
        name, _, param_value = param.partition("=")
        if name.strip().lower() == "charset" and param_value.strip():
            charset = param_value.strip().strip('"')
    return mime.strip().lower(), charset


def _decode(data: bytes, charset: str, what: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        raise WebhookPayloadError(f"the {what} is not valid {charset[:40]}") from None
    except (LookupError, ValueError, TypeError):  # also a name the codecs refuse (with a NUL)
        raise WebhookPayloadError(f"unknown charset {charset[:40]!r} for the {what}") from None


def _json(text: str) -> Any:
    try:
        value = json.loads(text)
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):  # JSON encoded twice
            value = json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise WebhookPayloadError(f"body is not valid JSON: {str(exc)[:120]}") from None
    return _storable(value, 1)


def _storable(value: Any, depth: int) -> Any:
    """``value`` with unstorable characters replaced (:data:`_UNSTORABLE`); a
    :class:`WebhookPayloadError` when it nests deeper than :data:`MAX_DEPTH`."""
    if isinstance(value, str):
        return _UNSTORABLE.sub("\ufffd", value)
    if not isinstance(value, dict | list):
        return value
    if depth > MAX_DEPTH:
        raise WebhookPayloadError(f"the body nests deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [_storable(item, depth + 1) for item in value]
    return {_storable(key, depth): _storable(item, depth + 1) for key, item in value.items()}


def _form_fields(body: bytes, charset: str) -> list[tuple[str, str]]:
    text = _decode(body, charset, "form body")
    try:
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding=charset,
                          errors="strict", max_num_fields=10_000)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"body is not valid form data: {str(exc)[:120]}") from None
    return [(_storable(key, 1), _storable(value, 1)) for key, value in pairs]


def _multipart_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The named fields of a multipart/form-data body, parsed with the standard e-mail parser."""
    if "\r" in content_type or "\n" in content_type or not content_type.isascii():
        raise WebhookPayloadError("invalid multipart content type")
    if len(_MULTIPART_HEADER.findall(body)) >= MAX_DEPTH:  # the parser recurses per level
        raise WebhookPayloadError(f"the multipart body nests deeper than {MAX_DEPTH} levels")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
    try:
        message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
    except RecursionError:
        raise WebhookPayloadError("the multipart body nests too deep") from None
    bad = (NoBoundaryInMultipartDefect, StartBoundaryNotFoundDefect, MultipartInvariantViolationDefect)
    if any(isinstance(defect, bad) for defect in message.defects) or not message.is_multipart():
        raise WebhookPayloadError("multipart body does not match its boundary")
    fields: list[tuple[str, str]] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise WebhookPayloadError("a multipart part has no field name")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        text = _decode(data, part.get_content_charset() or "utf-8", f"field {name[:40]!r}")
        fields.append((_storable(name, 1), _storable(text, 1)))
    if not fields:
        raise WebhookPayloadError("multipart body has no fields")
    return fields


def _from_fields(pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """Events from form fields: one flat event, ``1[email]=...`` style batches, or fields that
    hold JSON documents."""
    nested = _nest(pairs)
    if _is_event(nested):
        return [nested]
    documents = [v for v in nested.values() if isinstance(v, str) and v.lstrip()[:1] in ("{", "[")]
    if documents:
        items: list[dict[str, Any]] = []
        for document in documents:
            items.extend(_event_dicts(_json(document)))
        return items
    return _event_dicts(nested)


def _nest(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """``a[b][c]=v`` form keys as nested dicts (``a[]`` appends to a list)."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        head, _, tail = key.partition("[")
        path = [head, *_BRACKETS.findall("[" + tail)] if tail else [head]
        if len(path) > MAX_DEPTH:
            raise WebhookPayloadError(f"form field {key[:40]!r} nests deeper than {MAX_DEPTH} levels")
        node: Any = root
        for index, part in enumerate(path):
            last = index == len(path) - 1
            if isinstance(node, list):
                if not last:
                    raise WebhookPayloadError(f"form field {key!r}: cannot nest inside a list")
                node.append(value)
                break
            if last:
                if part == "" and index > 0:
                    raise WebhookPayloadError(f"form field {key!r}: empty key")
                if part in node:
                    raise WebhookPayloadError(f"form field {key!r} is given twice")
                node[part] = value
                break
            following = path[index + 1]
            child = node.setdefault(part, [] if following == "" else {})
            if not isinstance(child, dict | list):
                raise WebhookPayloadError(f"form field {key!r} clashes with field {part!r}")
            node = child
    return root


def _is_event(item: Mapping[str, Any]) -> bool:
    return any(isinstance(item.get(key), str) for key in EVENT_NAME_KEYS) or any(
        isinstance(item.get(key), str) for key in _RECIPIENT_KEYS)


def _event_dicts(doc: Any) -> list[Any]:
    """The items of a decoded document: event objects, and whatever else a batch holds in their
    place (kept, to be stored as unknown events)."""
    if isinstance(doc, list):
        return list(doc)
    if not isinstance(doc, dict):
        raise WebhookPayloadError(f"expected a JSON object or array of events, got {type(doc).__name__}")
    if _is_event(doc):
        return [doc]
    if "events" in doc and len(doc) == 1:
        return _event_dicts(doc["events"])
    keys = list(doc)
    numbered = bool(keys) and all(str(key).isdigit() for key in keys)
    if all(isinstance(value, dict) for value in doc.values()) or (
            numbered and any(isinstance(value, dict) for value in doc.values())):
        if numbered:
            keys.sort(key=int)
        return [doc[key] for key in keys]
    raise WebhookPayloadError("the body is neither an event nor a batch of events "
                              "(expected an object keyed \"1\", \"2\"..., an array or one event)")


def _first(item: Mapping[str, Any], keys: Iterable[str]) -> tuple[str, Any] | None:
    for key in keys:
        value = item.get(key)
        if value is not None and value != "":
            return key, value
    return None


def _event(item: Any, index: int) -> Event:
    """One normalized :class:`Event` from an item of a batch; every field stays in ``raw``.

    An item that cannot be fully read (not an object, no or a non-string name, no usable
    recipient, a bad timestamp, message key or url) is still stored, never dropped: as
    ``EventType.UNKNOWN`` (so it suppresses nobody), with what could be read, the recipient ``""``
    when there is no usable one (the column is NOT NULL), and the problem logged. An event without
    a usable timestamp gets the arrival time as ``timestamp`` and an ``event_id`` derived from
    ``raw`` (:func:`event_id_from_raw`), so a retried delivery is still recognized as a duplicate.
    """
    raw: dict[str, Any] = item if isinstance(item, dict) else {"value": item}
    problems: list[str] = [] if isinstance(item, dict) else ["not an event object"]

    found = _first(raw, EVENT_NAME_KEYS)
    if found is None or not isinstance(found[1], str):
        problems.append("no event name (expected an 'event' field)")
        type_ = EventType.UNKNOWN
    else:
        type_ = event_type_for(found[1])
        if type_ is EventType.UNKNOWN:
            logger.warning("webhook event %d has an unknown name %r: stored as 'unknown'",
                           index, found[1][:64])

    recipient = ""
    found = _first(raw, _RECIPIENT_KEYS)
    if found is None:
        problems.append("no recipient (expected an 'email' field)")
    else:
        key, value = found
        address = normalize_address(value) if isinstance(value, str) else ""
        local, at, domain = address.rpartition("@")
        if not (at and local and domain) or len(address) > 320 or _SPACE.search(address):
            problems.append(f"{key} {str(value)[:80]!r} is not an e-mail address")
        else:
            recipient = address

    timestamp: datetime | None = None
    found = _first(raw, _TIMESTAMP_KEYS)
    if found is None:
        logger.warning("webhook event %d has no timestamp: using the time it was received", index)
    else:
        try:
            timestamp = _timestamp(found[1], index, found[0])
        except WebhookPayloadError as exc:
            problems.append(str(exc).removeprefix(f"event {index}: "))

    message_key: str | None = None
    found = _first(raw, _MESSAGE_KEY_KEYS)
    if found is not None:
        if isinstance(found[1], bool) or not isinstance(found[1], str | int):
            problems.append(f"{found[0]} must be a string")
        elif len(str(found[1]).strip()) > 255:
            problems.append(f"{found[0]} is longer than 255 characters")
        else:
            message_key = str(found[1]).strip() or None

    url: str | None = None
    found = _first(raw, _URL_KEYS)
    if found is not None:
        if isinstance(found[1], str):
            url = found[1]
        else:
            problems.append(f"{found[0]} must be a string")

    if problems:
        logger.warning("webhook event %d stored as 'unknown': %s", index, "; ".join(problems))
        type_ = EventType.UNKNOWN
    event_id = event_id_from_raw(raw) if problems or timestamp is None else ""
    return Event(type=type_, recipient=recipient, timestamp=timestamp or datetime.now(UTC),
                 message_key=message_key, url=url, event_id=event_id, raw=raw)


def _timestamp(value: Any, index: int, key: str) -> datetime:
    """Seconds (int, float or text; milliseconds or microseconds when absurdly large), an ISO
    8601 or an RFC 2822 date. Naive dates are taken as UTC."""
    problem = f"event {index}: {key} {str(value)[:40]!r} is not a timestamp"
    if isinstance(value, bool):
        raise WebhookPayloadError(problem)
    number: float | int
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            parsed: datetime | None = None
            try:
                parsed = datetime.fromisoformat(text)
            except ValueError:
                try:
                    parsed = parsedate_to_datetime(text)
                except (TypeError, ValueError, IndexError, OverflowError):
                    parsed = None
            if parsed is None:
                raise WebhookPayloadError(problem) from None
            try:  # an offset can push the first or last day of the calendar out of range
                moment = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
            except OverflowError:
                raise WebhookPayloadError(problem) from None
            return _in_range(moment, problem)
    else:
        raise WebhookPayloadError(problem)
    try:
        number = float(number)  # an int beyond a float's range (10**400) overflows here
    except OverflowError:
        raise WebhookPayloadError(problem) from None
    if not math.isfinite(number):
        raise WebhookPayloadError(problem)
    if abs(number) >= 1e14:
        number /= 1_000_000
    elif abs(number) >= 1e11:
        number /= 1000
    try:
        return _in_range(_EPOCH + timedelta(seconds=number), problem)
    except OverflowError:
        raise WebhookPayloadError(problem) from None


def _in_range(moment: datetime, problem: str) -> datetime:
    if not _EARLIEST <= moment < _LATEST:
        raise WebhookPayloadError(problem)
    return moment

