"""What a send returns: one :class:`SendResult` per message, also attached as ``message.send_result``."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Literal

#: ``queued``: stored in the outbox (:mod:`acumbamail_smtp.outbox`), not sent yet.
Status = Literal["sent", "partially_refused", "refused", "queued"]

_QUEUE_ID = re.compile(r"queued as\s+<?([A-Za-z0-9._\-]+)>?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply: its code and text."""

    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


@dataclass(slots=True)
class SendResult:
    """The outcome of sending one message.

    ``accepted`` lists the envelope recipients the relay took; ``refused`` maps each refused one to
    the relay's reply; ``suppressed`` lists those skipped because they are on the suppression list
    (no RCPT was sent for them). ``reply`` is the relay's answer to the end of DATA, whose text
    carries the relay's queue id (``queue_id``), which Acumbamail's webhooks call ``email_key``.
    """

    message_id: str
    status: Status
    accepted: list[str] = field(default_factory=list)
    refused: dict[str, Reply] = field(default_factory=dict)
    suppressed: list[str] = field(default_factory=list)
    reply: Reply | None = None
    category: str | None = None
    sent_at: datetime = field(default_factory=partial(datetime.now, UTC))

    @property
    def queue_id(self) -> str | None:
        """The relay's queue id from ``250 ... queued as <id>``, if the reply carries one."""
        if self.reply is None:
            return None
        match = _QUEUE_ID.search(self.reply.text)
        return match.group(1) if match else None

    @property
    def ok(self) -> bool:
        """True when at least one recipient was accepted."""
        return bool(self.accepted)

    @staticmethod
    def status_for(accepted: list[str], refused: dict[str, Reply], suppressed: list[str]) -> Status:
        if not accepted:
            return "refused"
        if refused or suppressed:
            return "partially_refused"
        return "sent"
