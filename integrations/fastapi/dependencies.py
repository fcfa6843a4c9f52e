"""The application's shared mailer (and event store) on ``app.state``, opened in the lifespan and
handed to each request by the ``get_mailer`` dependency (``MailerDep``)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.store.sqlite import EventStore
from fastapi import Depends, FastAPI, Request

from .mailer import FastAPIMailer, close_shared_mailers
from .settings import AcumbamailSettings

MAILER_STATE = "acumbamail_mailer"
STORE_STATE = "acumbamail_store"
SETTINGS_STATE = "acumbamail_settings"
RECEIVER_STATE = "acumbamail_receiver"


@asynccontextmanager
async def acumbamail_lifespan(app: FastAPI, settings: AcumbamailSettings | None = None, *,
                              config: RelayConfig | None = None, mailer: FastAPIMailer | None = None,
                              store: EventStore | None = None) -> AsyncIterator[None]:
    """Put the application's mailer on ``app.state`` for the app's lifetime and close its
    connections at shutdown. ``FastAPI(lifespan=acumbamail_lifespan)`` reads ``ACUMBAMAIL_*``
    settings; or enter it inside your own lifespan (``async with acumbamail_lifespan(app, ...)``).

    ``config`` or ``mailer`` replace the relay settings; ``store`` (or ``ACUMBAMAIL_STORE``, then
    opened and closed here) is the event store the mailer checks for suppressed recipients and
    the webhook router writes to. ``ACUMBAMAIL_SUPPRESS_SEND`` makes the mailer a RecordingMailer.
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
                from .testing import RecordingMailer

                mailer = RecordingMailer(relay, store=store, template_folder=folder)
            else:
                mailer = FastAPIMailer(relay, pool_size=settings.pool_size if settings else 4,
                                       store=store, template_folder=folder)
        receiver = None
        if store is not None and settings is not None and settings.webhook_options():
            from acumbamail_smtp.webhooks.receiver import receiver_from_settings

            receiver = receiver_from_settings(store, settings.webhook_options())  # checked at startup
        state = {MAILER_STATE: mailer, STORE_STATE: store, SETTINGS_STATE: settings,
                 RECEIVER_STATE: receiver}
        for name, value in state.items():
            setattr(app.state, name, value)
        try:
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
