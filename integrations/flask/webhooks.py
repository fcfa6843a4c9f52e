"""The webhook endpoint as a blueprint: a thin translation of the Flask request into the core's
:meth:`~acumbamail_smtp.WebhookReceiver.handle` (verification, parsing, storage, suppression)
and of its answer back, sending ``tracking_event`` for each new event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.events import Event
from acumbamail_smtp.webhooks.receiver import WebhookReceiver, receiver_from_settings
from flask import Blueprint, Flask, Response, current_app, request
from flask.sansio.app import App

from .settings import webhook_key, webhook_settings
from .signals import tracking_event

if TYPE_CHECKING:
    from .extension import _State


def _emit(event: Event) -> None:
    tracking_event.send(current_app._get_current_object(), event=event)  # type: ignore[attr-defined]


def receiver_for(app: Flask, state: _State) -> WebhookReceiver:
    """The app's receiver for ``ACUMBAMAIL_WEBHOOK_*`` as they are now, on the app's store."""
    settings = webhook_settings(app.config)
    store = state.store(app)
    if store is None:
        raise ConfigError("ACUMBAMAIL_STORE", "the webhook endpoint needs an event store; "
                                              "ACUMBAMAIL_STORE is False")
    cached = state.receiver_cache
    if cached is not None and cached[0] == settings and cached[1] is store:
        return cached[2]
    try:
        receiver = receiver_from_settings(store, settings, on_event=_emit)
    except ConfigError as exc:
        raise ConfigError(webhook_key(exc.field), exc.problem) from None
    state.receiver_cache = (settings, store, receiver)
    return receiver


def receive(token: str | None = None) -> Response:
    """Handle one webhook post from Acumbamail (or the fake relay)."""
    from .extension import _app_and_state

    app, state = _app_and_state("the acumbamail webhook endpoint")
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
        from .extension import EXTENSION_KEY, AppContextError

        state = app.extensions.get(EXTENSION_KEY)
        if state is None:
            raise AppContextError("register the acumbamail webhook blueprint after "
                                  "acumbamail.init_app(app) (or Acumbamail(app))")
        receiver_for(cast(Flask, app), state)
        super().register(app, options)


def make_blueprint() -> Blueprint:
    """A blueprint with ``POST /webhook`` (token in ``?token=`` or none) and ``POST /webhook/<token>``."""
    blueprint = WebhookBlueprint("acumbamail", __name__)
    blueprint.add_url_rule("/webhook", "webhook", receive, methods=["POST"], defaults={"token": None})
    blueprint.add_url_rule("/webhook/<token>", "webhook_token", receive, methods=["POST"])
    return blueprint
