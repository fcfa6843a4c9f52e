"""Acumbamail's webhooks: check who posted, parse what was posted, and store the events.

:class:`WebhookReceiver` is the one entry point every framework adapter calls: the adapter hands
it the body, content type, headers, query and (optionally) a token taken from the URL path, and
turns the :class:`WebhookResponse` back into its own response. The receiver never raises for a
bad request; it answers 413, 400, 401/403 with nothing stored, 503 when the store fails (so the
sender retries) and 200 only once the events are durably stored.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, ClassVar

from ..errors import ConfigError, WebhookAuthError, WebhookError, WebhookPayloadError, WebhookTooLarge
from ..events import Event, EventType
from ..store.sqlite import EventStore
from ..store.suppression import SuppressionPolicy, apply_suppression
from ..telemetry import hooks as telemetry
from .parse import parse_events
from .verify import BASIC_REALM, WebhookVerifier

logger = logging.getLogger("acumbamail_smtp.webhooks")

DEFAULT_MAX_BODY = 1_048_576

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


def _answered(span: Any, response: WebhookResponse) -> WebhookResponse:
    """``response``, its status and new events recorded on the post's ``span``."""
    span.answered(response.status, response.events)
    return response


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
        """Verify, parse and store one webhook post (one span); never raises for a bad request."""
        with telemetry.webhook_span() as span:
            accepted = self._accept(body, content_type, headers, query, path_token, span)
            if isinstance(accepted, WebhookResponse):
                return _answered(span, accepted)
            started = time.perf_counter()
            response = self._persist(accepted)
            span.stored(time.perf_counter() - started)
            for event in response.events:
                self._call(event, in_loop=False)
            return _answered(span, response)

    async def ahandle(self, body: bytes, *, content_type: str = "",
                      headers: Mapping[str, str] | None = None, query: Mapping[str, str] | None = None,
                      path_token: str | None = None) -> WebhookResponse:
        """:meth:`handle` for asyncio: the store work runs in a thread, so the event loop never
        waits on the database; ``on_event`` runs in the loop and may be a coroutine function."""
        with telemetry.webhook_span() as span:
            accepted = self._accept(body, content_type, headers, query, path_token, span)
            if isinstance(accepted, WebhookResponse):
                return _answered(span, accepted)
            started = time.perf_counter()
            response = await asyncio.to_thread(self._persist, accepted)
            span.stored(time.perf_counter() - started)
            for event in response.events:
                outcome = self._call(event, in_loop=True)
                if inspect.isawaitable(outcome):
                    try:
                        await outcome
                    except Exception:
                        logger.exception("webhook on_event handler failed for event %s", event.event_id)
            return _answered(span, response)

    def _accept(self, body: bytes, content_type: str, headers: Mapping[str, str] | None,
                query: Mapping[str, str] | None, path_token: str | None,
                span: Any = None) -> list[Event] | WebhookResponse:
        """Size, verification and parsing: the events (counted on ``span``), or the error response."""
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
            events = parse_events(data, content_type)
        except WebhookPayloadError as exc:
            logger.warning("webhook rejected (400): %s", exc)
            return _error(exc)
        except Exception:  # a body the parser does not foresee is still the sender's fault: never a 500
            logger.exception("webhook rejected (400): the body could not be read")
            return _error(WebhookPayloadError("the body could not be read"))
        if span is not None:
            span.parsed(events)
        return events

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
