"""Sending over SMTP: the sync and async mailers, the protocol exchange, replies and the relay check."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .aio import AsyncMailer as AsyncMailer
    from .aio import AsyncSMTPConnection as AsyncSMTPConnection
    from .aio_protocol import ReplyReader as ReplyReader
    from .aio_protocol import run_async as run_async
    from .diagnostics import CheckReport as CheckReport
    from .diagnostics import CheckStep as CheckStep
    from .diagnostics import check_relay as check_relay
    from .policy import BATCH_STOPPED as BATCH_STOPPED
    from .policy import RECORD_BATCH as RECORD_BATCH
    from .policy import AsyncConnection as AsyncConnection
    from .policy import AsyncRecordingConnection as AsyncRecordingConnection
    from .policy import MailerPolicy as MailerPolicy
    from .policy import RecordingConnection as RecordingConnection
    from .policy import SyncConnection as SyncConnection
    from .policy import backoff_delay as backoff_delay
    from .policy import batch_error as batch_error
    from .policy import is_retryable as is_retryable
    from .policy import local_hostname as local_hostname
    from .policy import must_reconnect as must_reconnect
    from .policy import only_deferred as only_deferred
    from .policy import refused_result as refused_result
    from .policy import refused_text as refused_text
    from .policy import retry_delay as retry_delay
    from .protocol import Exchange as Exchange
    from .protocol import advance as advance
    from .protocol import command_sync as command_sync
    from .protocol import data_block as data_block
    from .protocol import exchange as exchange
    from .protocol import mail_options as mail_options
    from .protocol import read_reply as read_reply
    from .protocol import run_sync as run_sync
    from .reading import MAX_REPLY_LINE as MAX_REPLY_LINE
    from .reading import ReplyError as ReplyError
    from .reading import ReplyLimits as ReplyLimits
    from .reading import ReplyParser as ReplyParser
    from .reading import SocketReplies as SocketReplies
    from .reading import parse_reply_line as parse_reply_line
    from .replies import AUTH_HINT as AUTH_HINT
    from .replies import CLOSING_CODES as CLOSING_CODES
    from .replies import auth_error as auth_error
    from .replies import error_for_reply as error_for_reply
    from .replies import reply_text as reply_text
    from .sync import Mailer as Mailer
    from .sync import SMTPConnection as SMTPConnection
    from .sync import resolve_host as resolve_host

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "AUTH_HINT": ".replies",
    "AsyncConnection": ".policy",
    "AsyncMailer": ".aio",
    "AsyncRecordingConnection": ".policy",
    "AsyncSMTPConnection": ".aio",
    "BATCH_STOPPED": ".policy",
    "CLOSING_CODES": ".replies",
    "CheckReport": ".diagnostics",
    "CheckStep": ".diagnostics",
    "Exchange": ".protocol",
    "MAX_REPLY_LINE": ".reading",
    "Mailer": ".sync",
    "MailerPolicy": ".policy",
    "RECORD_BATCH": ".policy",
    "RecordingConnection": ".policy",
    "ReplyError": ".reading",
    "ReplyLimits": ".reading",
    "ReplyParser": ".reading",
    "ReplyReader": ".aio_protocol",
    "SMTPConnection": ".sync",
    "SocketReplies": ".reading",
    "SyncConnection": ".policy",
    "advance": ".protocol",
    "auth_error": ".replies",
    "backoff_delay": ".policy",
    "batch_error": ".policy",
    "check_relay": ".diagnostics",
    "command_sync": ".protocol",
    "data_block": ".protocol",
    "error_for_reply": ".replies",
    "exchange": ".protocol",
    "is_retryable": ".policy",
    "local_hostname": ".policy",
    "mail_options": ".protocol",
    "must_reconnect": ".policy",
    "only_deferred": ".policy",
    "parse_reply_line": ".reading",
    "read_reply": ".protocol",
    "refused_result": ".policy",
    "refused_text": ".policy",
    "reply_text": ".replies",
    "resolve_host": ".sync",
    "retry_delay": ".policy",
    "run_async": ".aio_protocol",
    "run_sync": ".protocol",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
