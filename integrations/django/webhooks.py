"""The webhook endpoint: a thin translation of Django's request into the core's
:class:`~acumbamail_smtp.WebhookReceiver` and of its answer back into a response.

The receiver (verification from ``ACUMBAMAIL["WEBHOOK_*"]``, the event store, the suppression
policy) is built once from the settings; each new event is sent on the ``tracking`` signal.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.events import Event
from acumbamail_smtp.webhooks.receiver import WebhookReceiver, WebhookResponse, receiver_from_settings
from django.core.exceptions import RequestDataTooBig
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.views.decorators.csrf import csrf_exempt

from . import conf
from .signals import send_robust, tracking

logger = logging.getLogger("acumbamail_smtp.django")

_receiver: WebhookReceiver | None = None
_lock = threading.Lock()


def _signal(event: Event) -> None:
    from .apps import AcumbamailConfig

    send_robust(tracking, AcumbamailConfig, event=event)


def webhook_receiver() -> WebhookReceiver:
    """The project's receiver, built once from the settings (ImproperlyConfigured naming the
    setting when they are wrong)."""
    global _receiver
    with _lock:
        if _receiver is None:
            store = conf.event_store()
            if store is None:
                raise conf.improperly(conf.setting_name("STORE"),
                                      f"the webhook endpoint needs an event store: add {conf.APP_NAME!r} "
                                      "to INSTALLED_APPS or set this setting")
            try:
                _receiver = receiver_from_settings(store, conf.webhook_settings(), on_event=_signal)
            except ConfigError as exc:
                raise conf.improperly(conf.webhook_setting_name(exc.field), exc.problem) from None
        return _receiver


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    global _receiver
    if setting in ("ACUMBAMAIL", "INSTALLED_APPS"):
        with _lock:
            _receiver = None


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

