"""The webhook endpoint: a thin translation of Django's request into the core's
:class:`~acumbamail_smtp.WebhookReceiver` and of its answer back into a response.

The receiver (verification from ``ACUMBAMAIL["WEBHOOK_*"]``, the event store, the suppression
policy) comes from the core's receiver cache; each new event is sent on the ``tracking`` signal.
"""

from __future__ import annotations

import logging

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.events import Event
from acumbamail_smtp.webhooks.receiver import WebhookReceiver, WebhookResponse
from acumbamail_smtp.webhooks.settings import cached_receiver
from django.apps import apps
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from . import conf
from .signals import send_robust, tracking

logger = logging.getLogger("acumbamail_smtp.django")


def _signal(event: Event) -> None:
    # The sender is the app's config class, found through the registry: importing .apps here
    # would close the circle apps -> checks -> webhooks -> apps.
    send_robust(tracking, type(apps.get_app_config("acumbamail")), event=event)


def webhook_receiver() -> WebhookReceiver:
    """The project's receiver for the settings as they are now, from the core's receiver cache
    (ImproperlyConfigured naming the setting when they are wrong)."""
    store = conf.event_store()
    if store is None:
        raise conf.improperly(conf.setting_name("STORE"),
                              f"the webhook endpoint needs an event store: add {conf.APP_NAME!r} "
                              "to INSTALLED_APPS or set this setting")
    try:
        return cached_receiver(store, conf.webhook_settings(), on_event=_signal, names=conf.WEBHOOK_NAMES)
    except ConfigError as exc:
        raise conf.improperly(exc.field, exc.problem) from None


def _response(result: WebhookResponse) -> HttpResponse:
    response = HttpResponse(result.content(), status=result.status, content_type=result.content_type)
    for name, value in result.headers.items():
        response[name] = value
    # The core logged this answer without the secret; Django's ``django.request`` logger (and
    # the admin e-mails) would log the full path, which holds the token.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


@csrf_exempt
def webhook(request: HttpRequest, token: str | None = None) -> HttpResponse:
    """Receive one webhook post from Acumbamail (token in the path or in ``?token=``)."""
    if request.method != "POST":
        # Not require_POST: it logs the path (and so the token) with the 405.
        logger.warning("webhook rejected (405): method %s not allowed", request.method)
        response = HttpResponseNotAllowed(["POST"])
        response._has_been_logged = True  # type: ignore[attr-defined]
        return response
    hook = webhook_receiver()
    early = hook.check_length(request.META.get("CONTENT_LENGTH"))
    if early is not None:
        return _response(early)
    try:
        body = request.body
    except RequestDataTooBig:
        return _response(WebhookResponse(413, {"status": "error", "error": "body too large"}))
    result = hook.handle(body, content_type=request.META.get("CONTENT_TYPE", ""),
                         headers=request.headers, query=request.GET, path_token=token)
    return _response(result)

