"""Django integration of acumbamail-smtp: an email backend for Acumbamail's SMTP relay, a webhook
endpoint, an ORM event store with its admin, signals, template sending and management commands.

    INSTALLED_APPS = [..., "acumbamail_smtp.integrations.django"]
    EMAIL_BACKEND = "acumbamail_smtp.integrations.django.EmailBackend"

Names are imported on first use, so listing the app in INSTALLED_APPS loads nothing else early.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acumbamail_smtp.lazy import lazy_exports

if TYPE_CHECKING:
    from .aio import asend_mail, asend_messages
    from .backend import EmailBackend
    from .message import AcumbamailMessage, send_template
    from .queued import QueuedEmailBackend
    from .signals import CancelSend, post_send, pre_send, tracking
    from .store import DjangoEventStore
    from .templates import render_template

_HOMES = {
    "asend_mail": ".aio",
    "asend_messages": ".aio",
    "EmailBackend": ".backend",
    "AcumbamailMessage": ".message",
    "CancelSend": ".signals",
    "QueuedEmailBackend": ".queued",
    "send_failed": ".signals",
    "pre_send": ".signals",
    "post_send": ".signals",
    "tracking": ".signals",
    "DjangoEventStore": ".store",
    "render_template": ".templates",
    "send_template": ".message",
}

__all__ = [
    "AcumbamailMessage",
    "CancelSend",
    "DjangoEventStore",
    "EmailBackend",
    "QueuedEmailBackend",
    "asend_mail",
    "asend_messages",
    "post_send",
    "pre_send",
    "render_template",
    "send_failed",
    "send_template",
    "tracking",
]


__getattr__ = lazy_exports(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
