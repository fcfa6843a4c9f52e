"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

Everything public is importable from here; each name lives in a module named for what it holds.
"""

import importlib
from typing import TYPE_CHECKING, Any

from .aio import AsyncMailer
from .categories import CATEGORY_HEADER, validate_category
from .config import RelayConfig, security_for_port
from .diagnostics import CheckReport, check_relay
from .errors import (
    AcumbamailError,
    AuthenticationError,
    ConfigError,
    ConnectionFailed,
    InvalidMessage,
    PermanentError,
    RecipientsRefused,
    SendError,
    TemplateError,
    TransientError,
    WebhookAuthError,
    WebhookError,
    WebhookPayloadError,
    WebhookTooLarge,
)
from .message import Attachment, Message, PreparedMessage, prepare
from .result import Reply, SendResult
from .transport import Mailer

if TYPE_CHECKING:
    from .templates import Rendered, Renderer, import_acumbamail, render, render_message

#: Names loaded on first use: the template support imports jinja2, which most senders never need.
_LAZY = {name: "templates" for name in
         ("Rendered", "Renderer", "import_acumbamail", "render", "render_message")}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "CATEGORY_HEADER",
    "AcumbamailError",
    "AsyncMailer",
    "Attachment",
    "AuthenticationError",
    "CheckReport",
    "ConfigError",
    "ConnectionFailed",
    "InvalidMessage",
    "Mailer",
    "Message",
    "PermanentError",
    "PreparedMessage",
    "RecipientsRefused",
    "RelayConfig",
    "Rendered",
    "Renderer",
    "Reply",
    "SendError",
    "SendResult",
    "TemplateError",
    "TransientError",
    "WebhookAuthError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookTooLarge",
    "check_relay",
    "import_acumbamail",
    "prepare",
    "render",
    "render_message",
    "security_for_port",
    "validate_category",
]
