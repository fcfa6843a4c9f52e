"""The event store's tables in the project's database: sends, events and suppressions (and the
outbox, ``QueuedEmail``), the same
logical schema as the core's stores (declared in :mod:`acumbamail_smtp.store.schema`; a test
holds these models to it).

Addresses are stored normalized (lower case, IDNA domain); times are UTC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.store import schema
from acumbamail_smtp.store.common import check_address
from acumbamail_smtp.store.suppression import SUPPRESSION_REASONS
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

if TYPE_CHECKING:  # field types for django-stubs (annotations are never evaluated at run time)
    from datetime import datetime

    Chars = models.CharField[str, str]
    OptChars = models.CharField[str | None, str | None]
    OptText = models.TextField[str | None, str | None]
    OptInt = models.IntegerField[int | None, int | None]
    Time = models.DateTimeField[datetime, datetime]
    OptTime = models.DateTimeField[datetime | None, datetime | None]


#: The longest Message-ID the tables keep: the core schema's (see its note on MySQL's key limit).
MESSAGE_ID_LENGTH = schema.MESSAGE_ID_LENGTH


class Send(models.Model):
    """One recipient of one sent message: accepted (``sent``), ``refused`` or ``suppressed``."""

    recipient: Chars = models.CharField(max_length=320)
    message_id: Chars = models.CharField(max_length=MESSAGE_ID_LENGTH)
    queue_id: OptChars = models.CharField(max_length=255, null=True, blank=True)
    category: OptChars = models.CharField(max_length=255, null=True, blank=True)
    sent_at: Time = models.DateTimeField()
    #: One of ``acumbamail_smtp.store.SEND_STATUSES`` ("sent", "refused", "suppressed").
    status: Chars = models.CharField(max_length=16)
    reply_code: OptInt = models.IntegerField(null=True, blank=True)
    reply_text: OptText = models.TextField(null=True, blank=True)

    class Meta:
        db_table = "acumbamail_sends"
        ordering = ("-sent_at", "-id")
        indexes = [
            models.Index(fields=["queue_id"], name="ix_acumbamail_sends_queue"),
            models.Index(fields=["recipient", "sent_at"], name="ix_acumbamail_sends_rcpt"),
            models.Index(fields=["category", "sent_at"], name="ix_acumbamail_sends_category"),
            models.Index(fields=["sent_at"], name="ix_acumbamail_sends_sent_at"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} {self.status} {self.message_id}"


class Event(models.Model):
    """One webhook event, stored once per ``event_id`` and joined to the send it reports on."""

    event_id: Chars = models.CharField(max_length=64, unique=True)
    #: An ``EventType`` value; no ``choices``, so a new core event type needs no migration.
    type: Chars = models.CharField(max_length=32)
    recipient: Chars = models.CharField(max_length=320)
    timestamp: Time = models.DateTimeField()
    message_key: OptChars = models.CharField(max_length=255, null=True, blank=True)
    url: OptText = models.TextField(null=True, blank=True)
    category: OptChars = models.CharField(max_length=255, null=True, blank=True)
    message_id: OptChars = models.CharField(max_length=MESSAGE_ID_LENGTH, null=True, blank=True)
    raw: models.JSONField = models.JSONField(default=dict)
    received_at: Time = models.DateTimeField()

    class Meta:
        db_table = "acumbamail_events"
        ordering = ("-timestamp", "-id")
        indexes = [
            models.Index(fields=["type", "timestamp"], name="ix_acumbamail_events_type"),
            models.Index(fields=["category", "timestamp"], name="ix_acumbamail_events_category"),
            models.Index(fields=["recipient", "timestamp"], name="ix_acumbamail_events_rcpt"),
            models.Index(fields=["message_key"], name="ix_acumbamail_events_key"),
            models.Index(fields=["message_id", "recipient", "type"], name="ix_acumbamail_events_message"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.recipient} {self.timestamp:%Y-%m-%d %H:%M:%S}"


class Suppression(models.Model):
    """An address we no longer send to, why, and the event that caused it (if any)."""

    address: Chars = models.CharField(max_length=320, primary_key=True)
    reason: Chars = models.CharField(
        max_length=32, choices=[(r, r.replace("_", " ")) for r in SUPPRESSION_REASONS], default="manual")
    created_at: Time = models.DateTimeField(default=timezone.now)
    event_id: OptChars = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        db_table = "acumbamail_suppressions"
        ordering = ("address",)

    def __str__(self) -> str:
        return str(self.address)

    def clean(self) -> None:
        """Normalize the address as every store keys it (the admin's add form goes through here)."""
        try:
            self.address = check_address(self.address or "")
        except ConfigError as exc:
            raise ValidationError({"address": exc.problem}) from None

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.address = check_address(self.address)
        super().save(*args, **kwargs)


#: The states of a queued message (the core outbox's): waiting, claimed by a worker, done.
OUTBOX_STATUSES = ("queued", "in_flight", "sent", "failed")


class QueuedEmail(models.Model):
    """One message of the outbox: the prepared bytes and envelope, waiting for a worker
    (``queued``), claimed under a lease (``in_flight``), or done (``sent``/``failed``)."""

    message_id: Chars = models.CharField(max_length=MESSAGE_ID_LENGTH)
    sender: Chars = models.CharField(max_length=320)
    recipients: models.JSONField = models.JSONField(default=list)
    data: models.BinaryField[bytes, bytes] = models.BinaryField()
    smtputf8: models.IntegerField[int, int] = models.IntegerField(default=0)
    category: OptChars = models.CharField(max_length=255, null=True, blank=True)
    metadata: models.JSONField = models.JSONField(default=dict, null=True, blank=True)
    priority: models.IntegerField[int, int] = models.IntegerField(default=0)
    status: Chars = models.CharField(max_length=16, default="queued",
                                     choices=[(s, s.replace("_", " ")) for s in OUTBOX_STATUSES])
    attempts: models.IntegerField[int, int] = models.IntegerField(default=0)
    send_after: Time = models.DateTimeField()
    created_at: Time = models.DateTimeField()
    lease_until: OptTime = models.DateTimeField(null=True, blank=True)
    worker: OptChars = models.CharField(max_length=255, null=True, blank=True)
    last_error: OptText = models.TextField(null=True, blank=True)
    reply_code: OptInt = models.IntegerField(null=True, blank=True)
    reply_text: OptText = models.TextField(null=True, blank=True)
    queue_id: OptChars = models.CharField(max_length=255, null=True, blank=True)
    sent_at: OptTime = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "acumbamail_outbox"
        ordering = ("-created_at", "-id")
        verbose_name = "queued email"
        indexes = [
            models.Index(fields=["status", "send_after"], name="ix_acumbamail_outbox_due"),
            models.Index(fields=["status", "lease_until"], name="ix_acumbamail_outbox_lease"),
            models.Index(fields=["message_id"], name="ix_acumbamail_outbox_message"),
        ]

    def __str__(self) -> str:
        return f"{self.status} {self.message_id}"
