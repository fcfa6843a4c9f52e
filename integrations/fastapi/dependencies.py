"""The application's shared mailer (and event store) on ``app.state``, opened in the lifespan and
handed to each request by the ``get_mailer`` dependency (``MailerDep``)."""

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Annotated, Any

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.store.sqlite import EventStore
from acumbamail_smtp.webhooks.settings import WEBHOOK_KEYS, cached_receiver
from fastapi import Depends, FastAPI, Request

from .mailer import FastAPIMailer, RecordingMailer, close_shared_mailers
from .settings import AcumbamailSettings, env_name

MAILER_STATE = "acumbamail_mailer"
STORE_STATE = "acumbamail_store"
SETTINGS_STATE = "acumbamail_settings"
RECEIVER_STATE = "acumbamail_receiver"
#: The environment variable behind each receiver setting, for the lifespan's errors.
WEBHOOK_SETTING_NAMES = {name: env_name(key) for key, name in WEBHOOK_KEYS.items()}
#: Set on the endpoints of a webhook router that takes its verification from the lifespan's
#: settings, so that the lifespan can refuse to start when those settings configure none.
NEEDS_LIFESPAN_RECEIVER = "__acumbamail_lifespan_receiver__"


def _needs_receiver(app: FastAPI) -> bool:
    """Whether a webhook router relying on the lifespan's settings is mounted on ``app``."""
    return any(getattr(endpoint, NEEDS_LIFESPAN_RECEIVER, False)
               for endpoint in _endpoints(app.router.routes))


def _endpoints(routes: Iterable[Any]) -> Iterator[Any]:
    """Every endpoint below ``routes``, through mounts and included routers (FastAPI 0.16x keeps an
    included router as one route that refers to the original)."""
    for route in routes:
        yield getattr(route, "endpoint", None)
        nested = getattr(route, "original_router", None) or getattr(route, "app", None)
        if nested is not None and nested is not route:
            yield from _endpoints(getattr(nested, "routes", ()))


@asynccontextmanager
async def acumbamail_lifespan(app: FastAPI, settings: AcumbamailSettings | None = None, *,
                              config: RelayConfig | None = None, mailer: FastAPIMailer | None = None,
                              store: EventStore | None = None,
                              drain_outbox: bool | None = None) -> AsyncIterator[None]:
    """Put the application's mailer on ``app.state`` for the app's lifetime and close its
    connections at shutdown. ``FastAPI(lifespan=acumbamail_lifespan)`` reads ``ACUMBAMAIL_*``
    settings; or enter it inside your own lifespan (``async with acumbamail_lifespan(app, ...)``).

    ``config`` or ``mailer`` replace the relay settings; ``store`` (or ``ACUMBAMAIL_STORE``, then
    opened and closed here) is the event store the mailer checks for suppressed recipients and
    the webhook router writes to. ``ACUMBAMAIL_SUPPRESS_SEND`` makes the mailer a RecordingMailer.
    ``drain_outbox`` (default ``ACUMBAMAIL_OUTBOX_WORKER``) sends what ``mailer.enqueue`` stores
    from a task in the app's event loop, every ``ACUMBAMAIL_OUTBOX_POLL`` seconds (1).
    """
    if settings is None and mailer is None and config is None:
        settings = AcumbamailSettings()
    owned_store = None
    if store is None and mailer is not None and isinstance(mailer.store, EventStore):
        store = mailer.store
    if store is None and settings is not None and settings.store:
        store = owned_store = open_store(settings.store)
    try:
        if mailer is None:
            relay = config if config is not None else _relay(settings)
            folder = settings.template_folder if settings is not None else None
            if settings is not None and settings.suppress_send:
                mailer = RecordingMailer(relay, store=store, template_folder=folder)
            else:
                mailer = FastAPIMailer(relay, pool_size=settings.pool_size if settings else 4,
                                       store=store, template_folder=folder)
        receiver = None
        options = settings.webhook_options() if settings is not None else {}
        if options or _needs_receiver(app):
            # Checked at startup: a mounted webhook router without verification would answer every
            # post with 500, and the sender would retry it for ever.
            if store is None:
                raise ConfigError("ACUMBAMAIL_STORE", "the webhook router needs an event store")
            receiver = cached_receiver(store, options, names=WEBHOOK_SETTING_NAMES)
        state = {MAILER_STATE: mailer, STORE_STATE: store, SETTINGS_STATE: settings,
                 RECEIVER_STATE: receiver}
        for name, value in state.items():
            setattr(app.state, name, value)
        if drain_outbox is None:
            drain_outbox = settings.outbox_worker if settings is not None else False
        try:
            async with AsyncExitStack() as stack:
                if drain_outbox:
                    from .outbox import outbox_worker

                    await stack.enter_async_context(outbox_worker(
                        mailer, poll=settings.outbox_poll if settings is not None else 1.0))
                yield
        finally:
            for name in state:
                if hasattr(app.state, name):
                    delattr(app.state, name)
            await mailer.aclose()
            await close_shared_mailers()
    finally:
        if owned_store is not None:
            owned_store.close()


def _relay(settings: AcumbamailSettings | None) -> RelayConfig:
    assert settings is not None
    return settings.relay_config()


async def get_mailer(request: Request) -> FastAPIMailer:
    """The application's shared mailer (a dependency: ``mailer: MailerDep``)."""
    mailer = getattr(request.app.state, MAILER_STATE, None)
    if mailer is None:
        raise ConfigError("acumbamail_lifespan", "no mailer on app.state: pass "
                                                 "lifespan=acumbamail_lifespan to FastAPI(), or enter "
                                                 "acumbamail_lifespan(app) in your own lifespan")
    return mailer  # type: ignore[no-any-return]


async def get_event_store(request: Request) -> EventStore | None:
    """The application's event store, or None when none is configured (a dependency)."""
    return getattr(request.app.state, STORE_STATE, None)


#: ``mailer: MailerDep`` in a path operation gets the application's shared mailer.
MailerDep = Annotated[FastAPIMailer, Depends(get_mailer)]
#: ``store: StoreDep`` gets the application's event store (None when there is none).
StoreDep = Annotated[EventStore | None, Depends(get_event_store)]
