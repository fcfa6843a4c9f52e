"""The outbox as the Flask worker drives it: :class:`SignallingOutbox` fires ``message_failed``
whenever a message ends as failed, whichever way the core's drain got there (imported when the
worker runs, like the outbox itself)."""

from __future__ import annotations

from acumbamail_smtp.outbox import Outbox, QueuedMessage

from .mailers import SignallingMailer


class SignallingOutbox(Outbox):
    """The app's outbox with one addition: marking a message failed (refused for good, or out of
    retries past the deadline) fires ``message_failed`` through ``mailer``, after the row says so."""

    def __init__(self, outbox: Outbox, mailer: SignallingMailer) -> None:
        super().__init__(outbox.backend, config=outbox.config)
        self.mailer = mailer

    def mark_failed(self, item: QueuedMessage, reason_text: str, *, reply_code: int | None = None) -> None:
        super().mark_failed(item, reason_text, reply_code=reply_code)
        self.mailer.signal_failed(item.prepared(), reason_text)
