"""The suppression list: addresses we must not send to any more, and the rule that fills it.

A hard bounce or a complaint suppresses the address at once. Soft bounces do not, unless a
:class:`SuppressionPolicy` says that N of them within D days do. The mailer asks the store
(``store.suppressed(recipients)``) before sending and skips whoever is on the list.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from ..errors import ConfigError
from ..events import Event, EventType
from .protocols import EventStore, Suppression

logger = logging.getLogger("acumbamail_smtp.suppression")

#: Why an address is suppressed.
SUPPRESSION_REASONS: tuple[str, ...] = ("hard_bounce", "complaint", "soft_bounce", "manual")


def validate_reason(reason: str) -> str:
    """``reason`` if it is one of :data:`SUPPRESSION_REASONS`, else ``ConfigError``."""
    if reason not in SUPPRESSION_REASONS:
        raise ConfigError("reason", f"must be one of {', '.join(SUPPRESSION_REASONS)}; got {reason!r}")
    return reason


@dataclass(frozen=True, slots=True)
class SuppressionPolicy:
    """When soft bounces suppress: ``soft_bounce_limit`` of them within ``soft_bounce_days``.

    ``soft_bounce_limit=None`` (the default) means soft bounces never suppress: they are usually
    temporary (full mailbox, greylisting) and Acumbamail retries them itself.
    """

    soft_bounce_limit: int | None = None
    soft_bounce_days: int = 7

    def __post_init__(self) -> None:
        limit = self.soft_bounce_limit
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ConfigError("soft_bounce_limit", f"must be None or an integer >= 1, got {limit!r}")
        days = self.soft_bounce_days
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise ConfigError("soft_bounce_days", f"must be an integer >= 1, got {days!r}")


def apply_suppression(store: EventStore, events: Iterable[Event],
                      policy: SuppressionPolicy | None = None) -> list[str]:
    """Suppress the recipients that ``events`` (new ones, not replays) say we must stop mailing.

    Returns the addresses added to the list by this call. Soft bounces are counted from the
    store, so those events must already be stored; hard bounces and complaints need not be (the
    webhook receiver applies them before storing, so that a stored one has always been applied).
    Errors propagate: the caller must not acknowledge the events as handled.
    """
    policy = policy or SuppressionPolicy()
    added: list[str] = []
    for event in events:
        reason: str | None = None
        if event.type in (EventType.HARD_BOUNCE, EventType.COMPLAINT):
            reason = event.type.value
        elif event.type is EventType.SOFT_BOUNCE and policy.soft_bounce_limit is not None:
            window_start = event.timestamp - timedelta(days=policy.soft_bounce_days)
            count = sum(1 for _ in store.events(
                recipient=event.recipient, type=EventType.SOFT_BOUNCE,
                since=window_start, until=event.timestamp + timedelta(microseconds=1)))
            if count >= policy.soft_bounce_limit:
                reason = "soft_bounce"
        if reason is not None and store.suppress(event.recipient, reason, event.event_id):
            logger.info("suppressed %s after %s (event %s)", event.recipient, reason, event.event_id)
            added.append(event.recipient)
    return added


__all__ = ["SUPPRESSION_REASONS", "Suppression", "SuppressionPolicy", "apply_suppression", "validate_reason"]
