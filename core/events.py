"""What became of a message: one normalized :class:`Event` per thing Acumbamail reports.

Acumbamail's names (``hard_bounces``, ``opens``...) and their singular spellings all map onto one
:class:`EventType`; a name we do not know becomes ``EventType.UNKNOWN`` and keeps the original in
``raw``, so nothing is ever dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parseaddr
from enum import StrEnum
from typing import Any

from .message.addresses import idna_domain


class EventType(StrEnum):
    """The normalized kinds of event; the values are what the stores write."""

    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"
    UNKNOWN = "unknown"


#: Every spelling we accept (after lower-casing and turning ``-`` and spaces into ``_``).
EVENT_NAMES: Mapping[str, EventType] = {
    **dict.fromkeys(("delivered", "delivery", "deliveries"), EventType.DELIVERED),
    **dict.fromkeys(("opens", "open", "opened"), EventType.OPENED),
    **dict.fromkeys(("clicks", "click", "clicked"), EventType.CLICKED),
    **dict.fromkeys(("hard_bounces", "hard_bounce", "hard_bounced", "hardbounce"), EventType.HARD_BOUNCE),
    **dict.fromkeys(("soft_bounces", "soft_bounce", "soft_bounced", "softbounce"), EventType.SOFT_BOUNCE),
    **dict.fromkeys(("complaints", "complaint", "complain", "complained", "spam"), EventType.COMPLAINT),
    **dict.fromkeys(("subscribes", "subscribe", "subscribed"), EventType.SUBSCRIBED),
    **dict.fromkeys(("unsubscribes", "unsubscribe", "unsubscribed"), EventType.UNSUBSCRIBED),
}


#: The keys an event's name may come under, in order of preference.
EVENT_NAME_KEYS: tuple[str, ...] = ("event", "event_type", "type")


def event_type_for(name: str) -> EventType:
    """The :class:`EventType` for an event name as Acumbamail (or a user) spells it; unknown names
    give ``EventType.UNKNOWN``."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key in EVENT_NAMES:
        return EVENT_NAMES[key]
    try:
        return EventType(key)
    except ValueError:
        return EventType.UNKNOWN


def normalize_address(address: str) -> str:
    """The form every store keys addresses by: trimmed, lower-cased, domain in IDNA (ASCII).

    Matching is case-insensitive, so ``Ana@Example.com`` and ``ana@example.com`` are one address;
    ``"Ana <ana@example.com>"`` is reduced to the address.
    """
    value = address.strip()
    if "<" in value:
        value = parseaddr(value)[1] or value
    local, at, domain = value.rpartition("@")
    if at and not domain.isascii():
        # Encoded before lower-casing, as the envelope is: lower() would turn a capital sigma into
        # a final sigma, which IDNA 2008 keeps distinct.
        with suppress(ValueError):  # not encodable: keep the lower-cased Unicode form
            return f"{local.lower()}@{idna_domain(domain).lower()}"
    return value.lower()


def event_id_for(type_: str, recipient: str, timestamp: datetime, message_key: str | None,
                 url: str | None) -> str:
    """The stable id of an event: sha256 over its normalized fields, so a retried delivery of the
    same event gets the same id and is stored once."""
    if timestamp.tzinfo is not UTC:
        timestamp = timestamp.astimezone(UTC)
    parts = (type_, recipient, timestamp.isoformat(timespec="microseconds"),
             message_key or "", url or "")
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def event_id_from_raw(raw: Mapping[str, Any]) -> str:
    """The stable id of an event we cannot identify by its fields (no timestamp, or not fully
    readable): sha256 over the canonical JSON of what was received (sorted keys), so a retried
    delivery of the same body gets the same id, where the arrival time would differ each time."""
    text = json.dumps(raw, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(("raw\x1f" + text).encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Event:
    """One normalized event.

    ``recipient`` is normalized (see :func:`normalize_address`); ``timestamp`` is an aware UTC
    datetime; ``message_key`` is Acumbamail's ``email_key`` (the relay's queue id of our send);
    ``category`` and ``message_id`` are filled in from the send record when the event is stored.
    ``event_id`` is computed from type, recipient, timestamp, message_key and url when not given
    (for unknown events the original name takes the place of the type). ``raw`` is the event as
    received, every field kept.
    """

    type: EventType
    recipient: str
    timestamp: datetime
    message_key: str | None = None
    url: str | None = None
    category: str | None = None
    message_id: str | None = None
    event_id: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if type(self.type) is not EventType:
            object.__setattr__(self, "type", EventType(self.type))
        object.__setattr__(self, "recipient", normalize_address(self.recipient))
        if self.timestamp.tzinfo is not UTC:
            if self.timestamp.tzinfo is None:
                raise ValueError("Event.timestamp must be timezone-aware")
            object.__setattr__(self, "timestamp", self.timestamp.astimezone(UTC))
        if not self.event_id:
            object.__setattr__(self, "event_id", event_id_for(
                self.id_type, self.recipient, self.timestamp, self.message_key, self.url))

    @property
    def id_type(self) -> str:
        """The type as it enters the event id: the original name for unknown events."""
        if self.type is EventType.UNKNOWN and (original := self.original_name):
            return f"unknown:{original}"
        return self.type.value

    @property
    def original_name(self) -> str | None:
        """The event name as received, if the event came from a webhook."""
        for key in EVENT_NAME_KEYS:
            name = self.raw.get(key)
            if isinstance(name, str) and name:
                return name
        return None
