"""Sending over SMTP: the sync and async mailers, the protocol exchange, replies and the relay check."""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .aio import AsyncMailer as AsyncMailer
    from .aio import AsyncSMTPConnection as AsyncSMTPConnection
    from .diagnostics import CheckReport as CheckReport
    from .diagnostics import CheckStep as CheckStep
    from .diagnostics import check_relay as check_relay
    from .policy import BATCH_STOPPED as BATCH_STOPPED
    from .policy import AsyncConnection as AsyncConnection
    from .policy import AsyncRecordingConnection as AsyncRecordingConnection
    from .policy import MailerPolicy as MailerPolicy
    from .policy import RecordingConnection as RecordingConnection
    from .policy import SyncConnection as SyncConnection
    from .sync import Mailer as Mailer
    from .sync import SMTPConnection as SMTPConnection

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    **homes(".aio", "AsyncMailer", "AsyncSMTPConnection"),
    **homes(".diagnostics", "CheckReport", "CheckStep", "check_relay"),
    **homes(".policy", "AsyncConnection", "AsyncRecordingConnection", "BATCH_STOPPED", "MailerPolicy",
            "RecordingConnection", "SyncConnection"),
    **homes(".sync", "Mailer", "SMTPConnection"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
