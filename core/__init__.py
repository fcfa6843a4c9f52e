"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

Everything public is importable from here; each name lives in a module named for what it holds.
"""

from typing import TYPE_CHECKING

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
from .events import Event, EventType
from .lazy import lazy_exports
from .message import Attachment, Message, PreparedMessage, prepare
from .message.categories import CATEGORY_HEADER, validate_category
from .result import Reply, SendResult
from .smtp.aio import AsyncMailer
from .smtp.diagnostics import CheckReport, check_relay
from .smtp.sync import Mailer
from .store.open import open_store
from .store.sqlite import (
    BatchedSendStore,
    EventStore,
    SendRecord,
    SendStore,
    SQLiteEventStore,
    StoreOutcome,
)
from .store.suppression import Suppression, SuppressionPolicy, apply_suppression
from .webhooks.parse import parse_events
from .webhooks.receiver import WebhookReceiver, WebhookResponse
from .webhooks.settings import receiver_from_settings
from .webhooks.verify import WebhookVerifier

if TYPE_CHECKING:
    from .templates.renderer import Rendered, Renderer, import_acumbamail, render, render_message

#: Names loaded on first use: the template support imports jinja2, which most senders never need.
_LAZY = {name: ".templates" for name in
         ("Rendered", "Renderer", "import_acumbamail", "render", "render_message")}


__getattr__ = lazy_exports(__name__, _LAZY)


__version__ = "0.1.0"

__all__ = [
    "CATEGORY_HEADER",
    "AcumbamailError",
    "AsyncMailer",
    "Attachment",
    "AuthenticationError",
    "BatchedSendStore",
    "CheckReport",
    "ConfigError",
    "ConnectionFailed",
    "Event",
    "EventStore",
    "EventType",
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
    "SQLiteEventStore",
    "SendError",
    "SendRecord",
    "SendResult",
    "SendStore",
    "StoreOutcome",
    "Suppression",
    "SuppressionPolicy",
    "TemplateError",
    "TransientError",
    "WebhookAuthError",
    "WebhookError",
    "WebhookPayloadError",
    "WebhookReceiver",
    "WebhookResponse",
    "WebhookTooLarge",
    "WebhookVerifier",
    "apply_suppression",
    "check_relay",
    "import_acumbamail",
    "open_store",
    "parse_events",
    "prepare",
    "receiver_from_settings",
    "render",
    "render_message",
    "security_for_port",
    "validate_category",
]
