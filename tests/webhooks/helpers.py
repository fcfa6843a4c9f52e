"""Builders shared by the webhook and store tests: send results, events and Acumbamail bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from acumbamail_smtp import Event, EventType, Reply, SendResult

T0 = datetime(2024, 12, 17, 12, 0, tzinfo=UTC)
TOKEN = "tok-3f9a1c0d5e7b42a8"


def at(minutes: float) -> datetime:
    """``T0`` plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def send_result(message_id: str = "<m1@example.com>", *, accepted: Iterable[str] = ("ana@example.com",),
                refused: Mapping[str, Reply] | None = None, suppressed: Iterable[str] = (),
                queue_id: str | None = "Q1", category: str | None = "ORDER",
                sent_at: datetime = T0) -> SendResult:
    accepted = list(accepted)
    refused = dict(refused or {})
    suppressed = list(suppressed)
    reply = Reply(250, f"2.0.0 Ok: queued as {queue_id}") if queue_id else None
    return SendResult(message_id, SendResult.status_for(accepted, refused, suppressed),
                      accepted=accepted, refused=refused, suppressed=suppressed, reply=reply,
                      category=category, sent_at=sent_at)


def event(type_: EventType | str = EventType.DELIVERED, recipient: str = "ana@example.com",
          when: datetime | None = None, key: str | None = None, url: str | None = None,
          **raw: Any) -> Event:
    return Event(type=EventType(type_), recipient=recipient, timestamp=when or at(1), message_key=key,
                 url=url, raw=raw)


def acumba(name: str, email: str, timestamp: Any = 1734436800.0, key: str | None = "Q1",
           **extra: Any) -> dict[str, Any]:
    """One event as Acumbamail posts it."""
    item: dict[str, Any] = {"email_key": key, "timestamp": timestamp, "email": email, "event": name,
                            "campaign_id": None, "list_id": None, "subscriber_fields": {}}
    if key is None:
        del item["email_key"]
    item.update(extra)
    return item


def batch(*events: dict[str, Any]) -> bytes:
    """A JSON body keyed "1", "2", ... as Acumbamail batches events."""
    return json.dumps({str(n): e for n, e in enumerate(events, 1)}).encode()
