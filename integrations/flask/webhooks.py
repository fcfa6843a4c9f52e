"""The webhook endpoint as a blueprint: a thin translation of the Flask request into the core's
:meth:`~acumbamail_smtp.WebhookReceiver.handle` (verification, parsing, storage, suppression)
and of its answer back, sending ``tracking_event`` for each new event.
"""

from __future__ import annotations

from typing import Any, Protocol, cast

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.events import Event
from acumbamail_smtp.store.sqlite import EventStore
from acumbamail_smtp.webhooks.receiver import WebhookReceiver
from acumbamail_smtp.webhooks.settings import cached_receiver
from flask import Blueprint, Flask, Response, current_app, request
from flask.sansio.app import App

from .settings import WEBHOOK_NAMES, webhook_settings
from .signals import tracking_event

#: Where ``Acumbamail.init_app`` keeps an app's state (``extension.EXTENSION_KEY``; not imported,
#: since the extension imports this module).
STATE_KEY = "acumbamail"


class AppState(Protocol):
    """What the endpoint needs from the extension's per-app state."""

    def store(self, app: Flask) -> EventStore | None: ...


def _emit(event: Event) -> None:
    tracking_event.send(current_app._get_current_object(), event=event)  # type: ignore[attr-defined]


def receiver_for(app: Flask, state: AppState) -> WebhookReceiver:
    """The app's receiver for ``ACUMBAMAIL_WEBHOOK_*`` as they are now, on the app's store (from
    the core's receiver cache)."""
    store = state.store(app)
    if store is None:
        raise ConfigError("ACUMBAMAIL_STORE", "the webhook endpoint needs an event store; "
                                              "ACUMBAMAIL_STORE is False")
    return cached_receiver(store, webhook_settings(app.config), on_event=_emit, names=WEBHOOK_NAMES)


def receive(token: str | None = None) -> Response:
    """Handle one webhook post from Acumbamail (or the fake relay)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    state: AppState | None = app.extensions.get(STATE_KEY)
    if state is None:
        raise RuntimeError(f"the Flask app {app.name!r} was not set up for acumbamail-smtp: "
                           "call acumbamail.init_app(app) (or Acumbamail(app)) first")
    receiver = receiver_for(app, state)
    result = receiver.check_length(request.headers.get("Content-Length"))
    if result is None:
        # Read at most one byte past the limit, so a body without Content-Length stays bounded.
        body = request.get_data() if request.content_length is not None \
            else request.stream.read(receiver.max_body + 1)
        result = receiver.handle(body, content_type=request.headers.get("Content-Type", ""),
                                 headers=dict(request.headers), query=request.args.to_dict(),
                                 path_token=token)
    return Response(result.content(), status=result.status, content_type=result.content_type,
                    headers=result.headers)


class WebhookBlueprint(Blueprint):
    """The webhook blueprint: ``register_blueprint`` refuses it with a ConfigError naming the
    settings when verification is missing or invalid, rather than answering every post with 500
    later (set ``ACUMBAMAIL_WEBHOOK_INSECURE`` to accept unverified posts on purpose)."""

    def register(self, app: App, options: dict[str, Any]) -> None:
        state: AppState | None = app.extensions.get(STATE_KEY)
        if state is None:
            raise RuntimeError("register the acumbamail webhook blueprint after "
                               "acumbamail.init_app(app) (or Acumbamail(app))")
        receiver_for(cast(Flask, app), state)
        super().register(app, options)


def make_blueprint() -> Blueprint:
    """A blueprint with ``POST /webhook`` (token in ``?token=`` or none) and ``POST /webhook/<token>``."""
    blueprint = WebhookBlueprint("acumbamail", __name__)
    blueprint.add_url_rule("/webhook", "webhook", receive, methods=["POST"], defaults={"token": None})
    blueprint.add_url_rule("/webhook/<token>", "webhook_token", receive, methods=["POST"])
    return blueprint
