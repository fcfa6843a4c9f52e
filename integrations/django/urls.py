"""URLs of the webhook endpoint: ``path("acumbamail/", include("acumbamail_smtp.integrations.django.urls"))``
gives ``acumbamail/webhook/<token>/`` (the callback URL to give Acumbamail) and ``acumbamail/webhook/``
(token in ``?token=``, or Basic auth / signatures only), and ``acumbamail/health/`` (see :mod:`.health`)."""

from __future__ import annotations

from django.urls import path

from .health import health_view
from .webhooks import webhook

app_name = "acumbamail"

urlpatterns = [
    path("webhook/", webhook, name="webhook"),
    path("webhook/<str:token>/", webhook, name="webhook-token"),
    path("health/", health_view, name="health"),
]
