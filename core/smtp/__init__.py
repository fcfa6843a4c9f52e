"""Sending over SMTP: the sync and async mailers, the protocol exchange, replies and the relay check."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .aio import (
        AsyncConnection as AsyncConnection,
    )
    from .aio import (
        AsyncMailer as AsyncMailer,
    )
    from .diagnostics import (
        CheckReport as CheckReport,
    )
    from .diagnostics import (
        CheckStep as CheckStep,
    )
    from .diagnostics import (
        check_relay as check_relay,
    )
    from .protocol import (
        MAX_REPLY_LINE as MAX_REPLY_LINE,
    )
    from .protocol import (
        Exchange as Exchange,
    )
    from .protocol import (
        ReplyReader as ReplyReader,
    )
    from .protocol import (
        command_sync as command_sync,
    )
    from .protocol import (
        data_block as data_block,
    )
    from .protocol import (
        exchange as exchange,
    )
    from .protocol import (
        mail_options as mail_options,
    )
    from .protocol import (
        parse_reply_line as parse_reply_line,
    )
    from .protocol import (
        read_reply as read_reply,
    )
    from .protocol import (
        run_async as run_async,
    )
    from .protocol import (
        run_sync as run_sync,
    )
    from .replies import (
        AUTH_HINT as AUTH_HINT,
    )
    from .replies import (
        CLOSING_CODES as CLOSING_CODES,
    )
    from .replies import (
        auth_error as auth_error,
    )
    from .replies import (
        error_for_reply as error_for_reply,
    )
    from .replies import (
        reply_text as reply_text,
    )
    from .sync import (
        RECORD_BATCH as RECORD_BATCH,
    )
    from .sync import (
        Mailer as Mailer,
    )
    from .sync import (
        SyncConnection as SyncConnection,
    )
    from .sync import (
        backoff_delay as backoff_delay,
    )
    from .sync import (
        is_retryable as is_retryable,
    )
    from .sync import (
        local_hostname as local_hostname,
    )
    from .sync import (
        must_reconnect as must_reconnect,
    )
    from .sync import (
        only_deferred as only_deferred,
    )
    from .sync import (
        refused_result as refused_result,
    )
    from .sync import (
        refused_text as refused_text,
    )
    from .sync import (
        resolve_host as resolve_host,
    )
    from .sync import (
        retry_delay as retry_delay,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "AUTH_HINT": ".replies",
    "AsyncConnection": ".aio",
    "AsyncMailer": ".aio",
    "CLOSING_CODES": ".replies",
    "CheckReport": ".diagnostics",
    "CheckStep": ".diagnostics",
    "Exchange": ".protocol",
    "MAX_REPLY_LINE": ".protocol",
    "Mailer": ".sync",
    "RECORD_BATCH": ".sync",
    "ReplyReader": ".protocol",
    "SyncConnection": ".sync",
    "auth_error": ".replies",
    "backoff_delay": ".sync",
    "check_relay": ".diagnostics",
    "command_sync": ".protocol",
    "data_block": ".protocol",
    "error_for_reply": ".replies",
    "exchange": ".protocol",
    "is_retryable": ".sync",
    "local_hostname": ".sync",
    "mail_options": ".protocol",
    "must_reconnect": ".sync",
    "only_deferred": ".sync",
    "parse_reply_line": ".protocol",
    "read_reply": ".protocol",
    "refused_result": ".sync",
    "refused_text": ".sync",
    "reply_text": ".replies",
    "resolve_host": ".sync",
    "retry_delay": ".sync",
    "run_async": ".protocol",
    "run_sync": ".protocol",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
