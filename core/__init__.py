"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

Everything public is importable from here; each name lives in a module named for what it holds.
"""

from .categories import CATEGORY_HEADER, validate_category
from .config import RelayConfig, security_for_port
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

__version__ = "0.1.0"

__all__ = [
    "CATEGORY_HEADER",
    "AcumbamailError",
    "Attachment",
    "AuthenticationError",
    "ConfigError",
    "ConnectionFailed",
    "InvalidMessage",
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
    "prepare",
    "security_for_port",
    "validate_category",
]
