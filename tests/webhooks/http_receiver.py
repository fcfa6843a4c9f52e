"""A real HTTP endpoint for the tests: the core's standalone :class:`WebhookServer` on 127.0.0.1."""

from __future__ import annotations

from acumbamail_smtp.webhooks.server import WebhookServer


class WebhookHTTPServer(WebhookServer):
    """Serves ``POST /webhooks/<token>`` (or ``/webhooks?token=``) on a free port."""
