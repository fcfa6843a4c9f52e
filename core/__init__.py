"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

Everything public is importable from here; each name lives in a module named for what it holds.
"""

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
    "prepare",
    "security_for_port",
    "validate_category",
]
