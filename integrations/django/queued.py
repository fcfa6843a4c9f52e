"""``QueuedEmailBackend``: ``send_mail`` returns once the message is in the outbox (the
``QueuedEmail`` table, inside the caller's transaction: rolled back, nothing is sent); a worker
(``manage.py acumbamail_worker``, or the Django Tasks task of :mod:`.tasks`) sends it.

    EMAIL_BACKEND = "acumbamail_smtp.integrations.django.QueuedEmailBackend"
    ACUMBAMAIL = {"TASK_BACKEND": "default"}   # optional: enqueue the drain task on commit

Each queued message gets ``acumbamail_status = "queued"``; ``post_send`` fires when the worker
sends it, ``send_failed`` when it ends as failed.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.core.mail import EmailMessage
from django.db import router, transaction

from . import conf
from .backend import EmailBackend
from .models import QueuedEmail
from .outbox import django_outbox

#: What ``acumbamail_status`` says of a message in the outbox.
QUEUED = "queued"


class QueuedEmailBackend(EmailBackend):
    """Enqueues instead of sending; takes the same arguments as
    :class:`~acumbamail_smtp.integrations.django.EmailBackend` (the relay settings are checked
    here, so a misconfiguration shows in the request, not later in the worker)."""

    def open(self) -> bool | None:
        return False  # nothing to connect to

    def close(self) -> None:
        pass

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """Validate and prepare every message, insert them in one statement; the count queued."""
        if not email_messages:
            return 0
        batch = self._prepare_all(email_messages)
        if not batch:
            return 0
        django_outbox().enqueue([prepared for _, prepared in batch])
        for message, _ in batch:
            message.acumbamail_status = QUEUED  # type: ignore[attr-defined]
        alias = conf.option("TASK_BACKEND")
        if alias:
            from .tasks import enqueue_drain

            transaction.on_commit(lambda: enqueue_drain(alias), using=router.db_for_write(QueuedEmail))
        return len(batch)

    async def asend_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        """From an async view: the insert in a thread (the ORM is synchronous)."""
        from asgiref.sync import sync_to_async

        return int(await sync_to_async(self.send_messages)(email_messages))
