"""The webhook endpoint as an ``APIRouter``: ``POST /webhook`` and ``POST /webhook/{token}``.

A thin translation of the request into the core's :meth:`WebhookReceiver.ahandle` (verification,
parsing, storage in a worker thread, suppression) and of its answer back. The application's event
handlers run after the response, so Acumbamail gets its answer as soon as the events are stored.
"""

import inspect
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any

from acumbamail_smtp.errors import AcumbamailError, ConfigError
from acumbamail_smtp.events import Event, EventType, event_type_for
from acumbamail_smtp.store.sqlite import EventStore
from acumbamail_smtp.webhooks.receiver import WebhookReceiver, WebhookResponse
from acumbamail_smtp.webhooks.settings import cached_receiver
from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from .dependencies import NEEDS_LIFESPAN_RECEIVER, RECEIVER_STATE, SETTINGS_STATE, get_event_store
from .settings import AcumbamailSettings

logger = logging.getLogger("acumbamail_smtp.fastapi")

EventHandler = Callable[[Event], object]


async def _no_handlers() -> None:
    return None


class WebhookRouter(APIRouter):
    """An ``APIRouter`` with the webhook routes and a registry of event handlers.

    ``@router.event_handler`` (every event) or ``@router.event_handler("hard_bounce", ...)``
    registers a function (sync ones run in a worker thread, async ones in the loop); each new,
    stored event is handed to the matching handlers after the response. An exception in a handler
    is logged; the event stays stored.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.handlers: list[tuple[frozenset[EventType], EventHandler]] = []

    def add_handler(self, handler: EventHandler,
                          types: Iterable[EventType | str] = ()) -> EventHandler:
        """Register ``handler`` for events of ``types`` (all events when empty)."""
        if not callable(handler):
            raise ConfigError("handler", f"must be callable, got {type(handler).__name__}")
        wanted = frozenset(_event_type(t) for t in types)
        self.handlers.append((wanted, handler))
        return handler

    def event_handler(self, *types: EventType | str | EventHandler) -> Any:
        """Decorator: ``@router.event_handler`` or ``@router.event_handler("hard_bounce", "complaint")``."""
        if len(types) == 1 and callable(types[0]) and not isinstance(types[0], str):
            return self.add_handler(types[0])
        names = [t for t in types if isinstance(t, str)]
        if len(names) != len(types):
            raise ConfigError("event_handler", "give event types (names or EventType) or decorate "
                                               "the function directly")

        wanted = [_event_type(name) for name in names]  # a wrong name fails here, not at the first event

        def register(handler: EventHandler) -> EventHandler:
            return self.add_handler(handler, wanted)

        return register


def _event_type(value: EventType | str) -> EventType:
    kind = event_type_for(str(value))
    if kind is EventType.UNKNOWN and str(value) != EventType.UNKNOWN.value:
        raise ConfigError("event_handler", f"unknown event type {value!r}; expected one of "
                                           f"{', '.join(t.value for t in EventType)}")
    return kind


def webhook_router(receiver: WebhookReceiver | None = None, *, store: EventStore | None = None,
                   settings: AcumbamailSettings | None = None,
                   handlers: Sequence[EventHandler] = (),
                   handler_dependency: Callable[..., Any] | None = None,
                   **options: Any) -> WebhookRouter:
    """The webhook router: ``app.include_router(webhook_router(), prefix="/acumbamail")``.

    The receiver is ``receiver``, else the core's cached one for the store (``store`` or
    the lifespan's) and the verification ``options`` (``token``, ``basic_auth``,
    ``signing_secrets``, ``insecure``, ``max_body``, ``soft_bounce_limit``...), else from
    ``settings`` or the lifespan's ``ACUMBAMAIL_WEBHOOK_*`` settings. With nothing configured
    the endpoint refuses to run (no unauthenticated endpoint by accident).

    ``handlers`` are called for every event; ``handler_dependency`` is a FastAPI dependency
    (it may depend on others) returning a handler or a list of handlers for this request.
    """
    router = WebhookRouter(tags=["acumbamail"])
    for handler in handlers:
        router.add_handler(handler)
    if settings is not None and not options:
        options = settings.webhook_options()
    if receiver is None and store is not None and options:
        cached_receiver(store, options)  # misconfiguration fails here, not at the first post

    def resolve(request: Request, app_store: EventStore | None) -> WebhookReceiver:
        if receiver is not None:
            return receiver
        chosen = store if store is not None else app_store
        if not options:
            prepared = getattr(request.app.state, RECEIVER_STATE, None)
            if prepared is not None and (chosen is None or prepared.store is chosen):
                return prepared  # type: ignore[no-any-return]
        if chosen is None:
            raise ConfigError("ACUMBAMAIL_STORE", "the webhook endpoint has no event store: set "
                                                  "ACUMBAMAIL_STORE, or pass store= to "
                                                  "acumbamail_lifespan or webhook_router")
        wanted = options
        if not wanted:
            app_settings = getattr(request.app.state, SETTINGS_STATE, None)
            wanted = app_settings.webhook_options() if app_settings is not None else {}
        return cached_receiver(chosen, wanted)

    async def receive(request: Request, background_tasks: BackgroundTasks, token: str | None,
                      app_store: EventStore | None, extra: Any) -> Response:
        try:
            active = resolve(request, app_store)
            chosen = [*router.handlers, *((frozenset(), h) for h in _as_handlers(extra))]
        except AcumbamailError as exc:
            logger.error("webhook endpoint is not configured: %s", exc)
            return _response(WebhookResponse(500, {"status": "error",
                                                   "error": "webhook endpoint is not configured"}))
        too_big = active.check_length(request.headers.get("content-length"))
        if too_big is not None:
            return _response(too_big)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > active.max_body:
                break  # ahandle answers 413
        answer = await active.ahandle(bytes(body), content_type=request.headers.get("content-type", ""),
                                      headers=dict(request.headers), query=dict(request.query_params),
                                      path_token=token)
        if answer.events and chosen:
            background_tasks.add_task(dispatch, answer.events, chosen)
        return _response(answer)

    dependency = handler_dependency or _no_handlers

    @router.post("/webhook", summary="Acumbamail webhook (events for sent messages)")
    async def acumbamail_webhook(request: Request, background_tasks: BackgroundTasks,
                                 app_store: Annotated[Any, Depends(get_event_store)],
                                 extra: Annotated[Any, Depends(dependency)]) -> Response:
        return await receive(request, background_tasks, None, app_store, extra)

    @router.post("/webhook/{token}", include_in_schema=False)
    async def acumbamail_webhook_token(token: str, request: Request, background_tasks: BackgroundTasks,
                                       app_store: Annotated[Any, Depends(get_event_store)],
                                       extra: Annotated[Any, Depends(dependency)]) -> Response:
        return await receive(request, background_tasks, token, app_store, extra)

    if receiver is None and not options:
        for endpoint in (acumbamail_webhook, acumbamail_webhook_token):
            setattr(endpoint, NEEDS_LIFESPAN_RECEIVER, True)
    return router


def _as_handlers(extra: Any) -> list[EventHandler]:
    if extra is None:
        return []
    if callable(extra):
        return [extra]
    handlers = list(extra)
    for handler in handlers:
        if not callable(handler):
            raise ConfigError("handler_dependency", "must return a handler or a list of handlers")
    return handlers


def _response(answer: WebhookResponse) -> Response:
    return Response(answer.content(), status_code=answer.status, headers=answer.headers,
                    media_type=answer.content_type)


async def dispatch(events: Sequence[Event],
                   handlers: Sequence[tuple[frozenset[EventType], EventHandler]]) -> None:
    """Call each handler for each event it wants; sync handlers in a worker thread."""
    for event in events:
        for types, handler in handlers:
            if types and event.type not in types:
                continue
            try:
                if _is_async(handler):
                    await handler(event)  # type: ignore[misc]
                else:
                    outcome = await run_in_threadpool(handler, event)
                    if inspect.isawaitable(outcome):
                        await outcome
            except Exception:
                logger.exception("webhook event handler %s failed for event %s",
                                 getattr(handler, "__qualname__", handler), event.event_id)


def _is_async(handler: Any) -> bool:
    return inspect.iscoroutinefunction(handler) or inspect.iscoroutinefunction(
        getattr(handler, "__call__", None))  # noqa: B004
