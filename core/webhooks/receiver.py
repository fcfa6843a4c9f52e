"""Acumbamail's webhooks: parse what it posts, check who posted it, and store the events.

:class:`WebhookReceiver` is the one entry point every framework adapter calls: the adapter hands
it the body, content type, headers, query and (optionally) a token taken from the URL path, and
turns the :class:`WebhookResponse` back into its own response. The receiver never raises for a
bad request; it answers 413, 400, 401/403 with nothing stored, 503 when the store fails (so the
sender retries) and 200 only once the events are durably stored.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import inspect
import json
import logging
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.errors import (
    MultipartInvariantViolationDefect,
    NoBoundaryInMultipartDefect,
    StartBoundaryNotFoundDefect,
)
from email.parser import BytesParser
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from ..config import parse_bool
from ..errors import ConfigError, WebhookAuthError, WebhookError, WebhookPayloadError, WebhookTooLarge
from ..events import EVENT_NAME_KEYS, Event, EventType, event_id_from_raw, event_type_for, normalize_address
from ..store.sqlite import EventStore
from ..store.suppression import SuppressionPolicy, apply_suppression

logger = logging.getLogger("acumbamail_smtp.webhooks")

DEFAULT_MAX_BODY = 1_048_576
#: How far a Standard Webhooks ``webhook-timestamp`` may be from our clock.
SIGNATURE_TOLERANCE = timedelta(minutes=5)
BASIC_REALM = "acumbamail-smtp webhooks"

_RECIPIENT_KEYS = ("email", "recipient", "email_address", "to")
_TIMESTAMP_KEYS = ("timestamp", "time", "date", "ts", "event_time")
_MESSAGE_KEY_KEYS = ("email_key", "message_key", "queue_id")
_URL_KEYS = ("url", "link")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")
_SPACE = re.compile(r"\s")  # the characters str.isspace() accepts

# -- parsing --------------------------------------------------------------------------------------


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
    return [_event(item, index) for index, item in enumerate(items, 1)]


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
    except LookupError:
        raise WebhookPayloadError(f"unknown charset {charset!r} for the {what}") from None
    except UnicodeDecodeError:
        raise WebhookPayloadError(f"the {what} is not valid {charset}") from None


def _json(text: str) -> Any:
    try:
        value = json.loads(text)
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):  # JSON encoded twice
            value = json.loads(value)
    except (ValueError, RecursionError) as exc:
        raise WebhookPayloadError(f"body is not valid JSON: {str(exc)[:120]}") from None
    return value


def _form_fields(body: bytes, charset: str) -> list[tuple[str, str]]:
    text = _decode(body, charset, "form body")
    try:
        return parse_qsl(text, keep_blank_values=True, strict_parsing=True, encoding=charset,
                         errors="strict", max_num_fields=10_000)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookPayloadError(f"body is not valid form data: {str(exc)[:120]}") from None


def _multipart_fields(body: bytes, content_type: str) -> list[tuple[str, str]]:
    """The named fields of a multipart/form-data body, parsed with the standard e-mail parser."""
    if "\r" in content_type or "\n" in content_type or not content_type.isascii():
        raise WebhookPayloadError("invalid multipart content type")
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
    message = BytesParser(policy=email_policy.HTTP).parsebytes(head + body)
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
        fields.append((name, _decode(data, part.get_content_charset() or "utf-8", f"field {name!r}")))
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
    number: float | None = None
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
                except (TypeError, ValueError, IndexError):
                    parsed = None
            if parsed is None:
                raise WebhookPayloadError(problem) from None
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    else:
        raise WebhookPayloadError(problem)
    if number is None or not math.isfinite(number):
        raise WebhookPayloadError(problem)
    if abs(number) >= 1e14:
        number /= 1_000_000
    elif abs(number) >= 1e11:
        number /= 1000
    try:
        return _EPOCH + timedelta(seconds=number)
    except OverflowError:
        raise WebhookPayloadError(problem) from None


# -- verifying ------------------------------------------------------------------------------------


def _lower_keys(headers: Mapping[str, str] | None) -> dict[str, str]:
    return {str(k).lower(): v for k, v in (headers or {}).items()}


def _decode_secret(secret: str, position: int) -> bytes:
    if not isinstance(secret, str) or not secret.strip():
        raise ConfigError("signing_secrets", f"secret #{position} must be a non-empty string")
    text = secret.strip().removeprefix("whsec_")
    try:
        key = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("signing_secrets",
                          f"secret #{position} is not valid base64 (expected whsec_<base64>)") from None
    if len(key) < 16:
        raise ConfigError("signing_secrets", f"secret #{position} is shorter than 16 bytes")
    return key


def sign_webhook(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` value (``v1,<base64>``) for ``body``: what a
    sender (or a test) puts in the header for a ``whsec_...`` secret."""
    key = _decode_secret(secret, 1)
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookVerifier:
    """Checks that a webhook post comes from whoever holds our secret.

    Acumbamail does not sign its webhooks, so the usual protection is a secret ``token`` in the
    callback URL (a path segment the adapter extracts, or ``?token=``). Optional HTTP Basic
    credentials and Standard Webhooks signatures (for a signing proxy) are also checked; every
    configured method must pass. Several credentials or secrets may be given, for rotation. With
    nothing configured, construction fails unless ``insecure=True``. Secrets never appear in
    ``repr()``, errors or logs.
    """

    def __init__(self, token: str | None = None,
                 basic_auth: Sequence[tuple[str, str]] | None = None,
                 signing_secrets: Sequence[str] | None = None, insecure: bool = False, *,
                 tolerance: timedelta = SIGNATURE_TOLERANCE) -> None:
        if token is not None and (not isinstance(token, str) or not token.strip()):
            raise ConfigError("token", "must be a non-empty string")
        self._token = token.encode("utf-8") if token is not None else None
        self._basic: list[tuple[bytes, bytes]] = []
        if basic_auth is not None:
            pairs: Sequence[Any] = basic_auth
            if len(pairs) == 2 and all(isinstance(p, str) for p in pairs):
                pairs = [tuple(pairs)]  # one (user, password) pair given bare
            for position, pair in enumerate(pairs, 1):
                if not (isinstance(pair, tuple | list) and len(pair) == 2
                        and all(isinstance(p, str) and p for p in pair)):
                    raise ConfigError("basic_auth", f"credential #{position} must be a (user, password) "
                                                    "pair of non-empty strings")
                if ":" in pair[0]:
                    raise ConfigError("basic_auth", f"credential #{position}: the user name must not "
                                                    "contain ':'")
                self._basic.append((pair[0].encode("utf-8"), pair[1].encode("utf-8")))
            if not self._basic:
                raise ConfigError("basic_auth", "give at least one (user, password) pair, or None")
        secrets = [signing_secrets] if isinstance(signing_secrets, str) else list(signing_secrets or [])
        if signing_secrets is not None and not secrets:
            raise ConfigError("signing_secrets", "give at least one secret, or None")
        self._keys = [_decode_secret(secret, position) for position, secret in enumerate(secrets, 1)]
        self.insecure = parse_bool("insecure", insecure)
        self.tolerance = tolerance
        if not self.methods:
            if not self.insecure:
                raise ConfigError("webhook verification",
                                  "configure a token, basic_auth or signing_secrets (or pass "
                                  "insecure=True to accept unauthenticated posts)")
            logger.warning("webhook verification is disabled (insecure=True): anyone who knows the "
                           "callback URL can post events")

    @property
    def methods(self) -> tuple[str, ...]:
        """The configured checks, by name."""
        names = (("token", self._token is not None), ("basic", bool(self._basic)),
                 ("signature", bool(self._keys)))
        return tuple(name for name, on in names if on)

    def __repr__(self) -> str:
        return f"WebhookVerifier(methods={self.methods!r}, insecure={self.insecure})"

    def verify(self, body: bytes, *, headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None, path_token: str | None = None,
               now: float | None = None) -> None:
        """Return if the request passes every configured check, else raise
        :class:`WebhookAuthError` (status 401 when credentials are missing, 403 when wrong)."""
        lowered = _lower_keys(headers)
        if self._token is not None:
            self._check_token(path_token if path_token else (query or {}).get("token"))
        if self._basic:
            self._check_basic(lowered.get("authorization"))
        if self._keys:
            self._check_signature(body, lowered, time.time() if now is None else now)

    def _check_token(self, supplied: str | None) -> None:
        assert self._token is not None
        if not supplied:
            raise WebhookAuthError("webhook token missing (expected in the callback URL)", status=401)
        if not hmac.compare_digest(str(supplied).encode("utf-8"), self._token):
            raise WebhookAuthError("webhook token does not match", status=403)

    def _check_basic(self, header: str | None) -> None:
        scheme, _, encoded = (header or "").strip().partition(" ")
        if scheme.lower() != "basic" or not encoded.strip():
            raise WebhookAuthError("HTTP Basic credentials missing", status=401)
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            raise WebhookAuthError("HTTP Basic credentials are malformed", status=401) from None
        if not sep:
            raise WebhookAuthError("HTTP Basic credentials are malformed", status=401)
        matched = False
        for good_user, good_password in self._basic:  # no early exit: same work for every pair
            same = hmac.compare_digest(user, good_user) & hmac.compare_digest(password, good_password)
            matched = matched or same
        if not matched:
            raise WebhookAuthError("HTTP Basic credentials are wrong", status=403)

    def _check_signature(self, body: bytes, headers: Mapping[str, str], now: float) -> None:
        msg_id = headers.get("webhook-id")
        stamp = headers.get("webhook-timestamp")
        signatures = headers.get("webhook-signature")
        if not msg_id or not stamp or not signatures:
            raise WebhookAuthError("webhook signature headers missing (webhook-id, webhook-timestamp, "
                                   "webhook-signature)", status=401)
        try:
            sent = int(stamp.strip())
        except ValueError:
            raise WebhookAuthError("webhook-timestamp is not a Unix time", status=403) from None
        if abs(now - sent) > self.tolerance.total_seconds():
            raise WebhookAuthError("webhook-timestamp is outside the accepted tolerance "
                                   f"({int(self.tolerance.total_seconds())} s)", status=403)
        signed = f"{msg_id}.{sent}.".encode() + body
        expected = [base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()) for key in self._keys]
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != "v1":
                continue
            for candidate in expected:
                if hmac.compare_digest(value.encode("ascii", "replace"), candidate):
                    return
        raise WebhookAuthError("webhook signature does not match", status=403)


# -- receiving ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    """What to answer: ``status``, a JSON ``body`` and extra ``headers``. ``events`` are the newly
    stored events (duplicates excluded), joined to their sends."""

    status: int
    body: dict[str, Any]
    events: list[Event] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: ClassVar[str] = "application/json"

    def content(self) -> bytes:
        """The body as UTF-8 JSON bytes."""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


def _error(exc: WebhookError, headers: dict[str, str] | None = None) -> WebhookResponse:
    return WebhookResponse(exc.status, {"status": "error", "error": str(exc)}, headers=headers or {})


def _unavailable(problem: str, events: list[Event] | None = None) -> WebhookResponse:
    """503 with ``Retry-After``: the sender retries the whole post later."""
    return WebhookResponse(503, {"status": "error", "error": problem}, events=events or [],
                           headers={"Retry-After": "60"})


#: The events that suppress their recipient at once.
_SUPPRESSING = (EventType.HARD_BOUNCE, EventType.COMPLAINT)


EventHandler = Callable[[Event], object]


class WebhookReceiver:
    """Verifies, parses and stores webhook posts; call :meth:`handle` (or :meth:`ahandle`).

    Events are stored in one transaction per post, duplicates once; ``on_event`` is then called
    for each new event (an exception there is logged, never turned into an error response, since
    the events are safe).

    Suppression (``policy``) must never be lost, and a replay of an old event must never put back
    an address someone took off the list. So hard bounces and complaints the store does not hold
    yet are applied *before* the events are stored: a stored one has always been applied, and
    when applying fails nothing is stored and the answer is 503, so the sender's retry finds the
    events new and applies them again (``suppress`` is idempotent). Duplicates are never applied
    again. Soft bounces are counted from the store, so the policy runs after storing; if that
    fails the answer is 503 too, and the next soft bounce to the address re-counts the window.

    An adapter is a few lines in any framework::

        early = receiver.check_length(request.headers.get("Content-Length"))  # optional
        result = early or receiver.handle(
            request.body, content_type=request.content_type, headers=request.headers,
            query=request.query_params, path_token=token_from_the_url_path)
        return Response(result.content(), status=result.status, content_type=result.content_type,
                        headers=result.headers)
    """

    def __init__(self, store: EventStore, verifier: WebhookVerifier, *,
                 max_body: int = DEFAULT_MAX_BODY, on_event: EventHandler | None = None,
                 policy: SuppressionPolicy | None = None) -> None:
        if not isinstance(store, EventStore):
            raise ConfigError("store", f"must be an EventStore, got {type(store).__name__}")
        if not isinstance(verifier, WebhookVerifier):
            raise ConfigError("verifier", f"must be a WebhookVerifier, got {type(verifier).__name__}")
        if isinstance(max_body, bool) or not isinstance(max_body, int) or max_body < 1:
            raise ConfigError("max_body", f"must be a positive number of bytes, got {max_body!r}")
        if on_event is not None and not callable(on_event):
            raise ConfigError("on_event", "must be a callable taking an Event")
        self.store = store
        self.verifier = verifier
        self.max_body = max_body
        self.on_event = on_event
        self.policy = policy or SuppressionPolicy()

    def __repr__(self) -> str:
        return f"WebhookReceiver(store={self.store!r}, verifier={self.verifier!r}, max_body={self.max_body})"

    def check_length(self, content_length: int | str | None) -> WebhookResponse | None:
        """A 413 response when a declared ``Content-Length`` is over ``max_body`` (so adapters can
        refuse before reading the body), a 400 when it is not a non-negative integer, else None."""
        if content_length is None or content_length == "":
            return None
        text = str(content_length).strip()
        if isinstance(content_length, bool) or not (text.isascii() and text.isdigit()):
            return _error(WebhookPayloadError("Content-Length is not a non-negative integer"))
        length = int(text)
        if length > self.max_body:
            logger.warning("webhook rejected: %d bytes declared, limit %d", length, self.max_body)
            return _error(WebhookTooLarge(f"body larger than {self.max_body} bytes"))
        return None

    def handle(self, body: bytes, *, content_type: str = "", headers: Mapping[str, str] | None = None,
               query: Mapping[str, str] | None = None, path_token: str | None = None) -> WebhookResponse:
        """Verify, parse and store one webhook post; never raises for a bad request."""
        accepted = self._accept(body, content_type, headers, query, path_token)
        if isinstance(accepted, WebhookResponse):
            return accepted
        response = self._persist(accepted)
        for event in response.events:
            self._call(event, in_loop=False)
        return response

    async def ahandle(self, body: bytes, *, content_type: str = "",
                      headers: Mapping[str, str] | None = None, query: Mapping[str, str] | None = None,
                      path_token: str | None = None) -> WebhookResponse:
        """:meth:`handle` for asyncio: the store work runs in a thread, so the event loop never
        waits on the database; ``on_event`` runs in the loop and may be a coroutine function."""
        accepted = self._accept(body, content_type, headers, query, path_token)
        if isinstance(accepted, WebhookResponse):
            return accepted
        response = await asyncio.to_thread(self._persist, accepted)
        for event in response.events:
            outcome = self._call(event, in_loop=True)
            if inspect.isawaitable(outcome):
                try:
                    await outcome
                except Exception:
                    logger.exception("webhook on_event handler failed for event %s", event.event_id)
        return response

    def _accept(self, body: bytes, content_type: str, headers: Mapping[str, str] | None,
                query: Mapping[str, str] | None, path_token: str | None) -> list[Event] | WebhookResponse:
        """Size, verification and parsing: the events, or the error response."""
        data = bytes(body)  # also takes a bytearray or memoryview
        if len(data) > self.max_body:
            logger.warning("webhook rejected: %d bytes, limit %d", len(data), self.max_body)
            return _error(WebhookTooLarge(f"body larger than {self.max_body} bytes"))
        try:
            self.verifier.verify(data, headers=headers, query=query, path_token=path_token)
        except WebhookAuthError as exc:
            logger.warning("webhook rejected (%d): %s", exc.status, exc)
            extra = {"WWW-Authenticate": f'Basic realm="{BASIC_REALM}"'} \
                if exc.status == 401 and "basic" in self.verifier.methods else {}
            return _error(exc, extra)
        try:
            return parse_events(data, content_type)
        except WebhookPayloadError as exc:
            logger.warning("webhook rejected (400): %s", exc)
            return _error(exc)

    def _persist(self, events: list[Event]) -> WebhookResponse:
        """Apply the new hard bounces and complaints, store the events (one transaction), then
        apply the soft-bounce policy (class docstring); 503 if any of it fails."""
        try:
            suppressed = len(apply_suppression(self.store, self._not_stored(events), self.policy))
        except Exception:
            logger.exception("hard bounces and complaints could not be suppressed, so no event was "
                             "stored; answering 503 so the sender retries")
            return _unavailable("event store unavailable")
        try:
            outcome = self.store.store_events(events)
        except Exception:
            logger.exception("webhook events could not be stored; answering 503 so the sender retries")
            return _unavailable("event store unavailable")
        soft = [event for event in outcome.new if event.type is EventType.SOFT_BOUNCE]
        try:
            suppressed += len(apply_suppression(self.store, soft, self.policy))
        except Exception:
            logger.exception("the soft-bounce policy could not be applied to %d stored events; "
                             "answering 503", len(soft))
            return _unavailable("event store unavailable", list(outcome.new))
        body = {"status": "ok", "received": len(events), "stored": len(outcome.new),
                "duplicates": len(outcome.duplicates), "suppressed": suppressed}
        return WebhookResponse(200, body, events=list(outcome.new))

    def _not_stored(self, events: Sequence[Event]) -> list[Event]:
        """The hard bounces and complaints among ``events`` that the store does not hold yet
        (one look-up per recipient, through the store's ``events`` query)."""
        wanted = [event for event in events if event.type in _SUPPRESSING]
        by_recipient: dict[str, list[Event]] = {}
        for event in wanted:
            by_recipient.setdefault(event.recipient, []).append(event)
        stored: set[str] = set()
        for recipient, group in by_recipient.items():
            stored.update(event.event_id for event in self.store.events(
                recipient=recipient, type=_SUPPRESSING, since=min(e.timestamp for e in group),
                until=max(e.timestamp for e in group) + timedelta(microseconds=1)))
        return [event for event in wanted if event.event_id not in stored]

    def _call(self, event: Event, *, in_loop: bool) -> object:
        if self.on_event is None:
            return None
        try:
            outcome = self.on_event(event)
        except Exception:
            logger.exception("webhook on_event handler failed for event %s", event.event_id)
            return None
        if inspect.isawaitable(outcome) and not in_loop:
            if inspect.iscoroutine(outcome):
                outcome.close()
            logger.error("webhook on_event handler is async: use WebhookReceiver.ahandle to await it")
            return None
        return outcome


def receiver_from_settings(store: EventStore, settings: Mapping[str, Any] | None = None,
                           **overrides: Any) -> WebhookReceiver:
    """A :class:`WebhookReceiver` from plain settings (a dict, framework config or keywords):
    ``token``, ``basic_auth`` (a list of pairs or ``"user:pass"`` strings, taken as they are, or
    one string of ``user:pass`` entries separated by commas, white space around them ignored: a
    password with a comma, or white space at either end, must be given in a list),
    ``signing_secrets`` (a list or a space/comma-separated string), ``insecure``, ``max_body``,
    ``soft_bounce_limit``, ``soft_bounce_days`` and ``on_event``. Keys are case-insensitive;
    ``None`` means unset; strings such as ``"true"`` or ``"4096"`` are converted."""
    known = ("token", "basic_auth", "signing_secrets", "insecure", "max_body", "soft_bounce_limit",
             "soft_bounce_days", "on_event")
    values: dict[str, Any] = {}
    for key, value in {**dict(settings or {}), **overrides}.items():
        name = str(key).lower()
        if name not in known:
            raise ConfigError(str(key), f"unknown webhook setting; expected one of {', '.join(known)}")
        if value is not None and value != "":
            values[name] = value
    basic = values.get("basic_auth")
    if basic is not None:
        entries = ([e.strip() for e in basic.split(",") if e.strip()] if isinstance(basic, str)
                   else list(basic))
        pairs: list[tuple[str, str]] = []
        for entry in entries:
            if isinstance(entry, str):
                user, sep, password = entry.partition(":")
                if not sep:
                    raise ConfigError("basic_auth", "each credential must be written user:password")
                pairs.append((user, password))
            else:
                pairs.append(tuple(entry))
        basic = pairs
    secrets = values.get("signing_secrets")
    if isinstance(secrets, str):
        secrets = [s for s in re.split(r"[,\s]+", secrets) if s]
    verifier = WebhookVerifier(
        token=values.get("token"), basic_auth=basic, signing_secrets=secrets,
        insecure=parse_bool("insecure", values.get("insecure", False)))
    policy = SuppressionPolicy(
        soft_bounce_limit=_int_setting(values, "soft_bounce_limit"),
        soft_bounce_days=_int_setting(values, "soft_bounce_days") or 7)
    return WebhookReceiver(store, verifier, max_body=_int_setting(values, "max_body") or DEFAULT_MAX_BODY,
                           on_event=values.get("on_event"), policy=policy)


def _int_setting(values: Mapping[str, Any], name: str) -> int | None:
    value = values.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    try:
        return int(str(value).strip())
    except ValueError:
        raise ConfigError(name, f"must be an integer, got {value!r}") from None
