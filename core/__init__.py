"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

The names the README documents are importable from here; each one is imported on first use (PEP
562), so ``import acumbamail_smtp`` loads neither the transports (smtplib, ssl, asyncio,
aiosmtplib) nor the store (sqlite3) nor the templates (jinja2) until a program asks for them.
Everything else lives in its subpackage (``acumbamail_smtp.smtp``, ``.store``, ``.message``...).
"""

from typing import TYPE_CHECKING

from .lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .config import RelayConfig as RelayConfig
    from .config import security_for_port as security_for_port
    from .errors import AcumbamailError as AcumbamailError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import ConfigError as ConfigError
    from .errors import ConnectionFailed as ConnectionFailed
    from .errors import InvalidMessage as InvalidMessage
    from .errors import MissingSender as MissingSender
    from .errors import PermanentError as PermanentError
    from .errors import RecipientsRefused as RecipientsRefused
    from .errors import SendError as SendError
    from .errors import TemplateError as TemplateError
    from .errors import TransientError as TransientError
    from .errors import WebhookAuthError as WebhookAuthError
    from .errors import WebhookError as WebhookError
    from .errors import WebhookPayloadError as WebhookPayloadError
    from .errors import WebhookTooLarge as WebhookTooLarge
    from .events import Event as Event
    from .events import EventType as EventType
    from .healthcheck import Health as Health
    from .healthcheck import health as health
    from .message import CATEGORY_HEADER as CATEGORY_HEADER
    from .message import Attachment as Attachment
    from .message import Message as Message
    from .message import PreparedMessage as PreparedMessage
    from .message import prepare as prepare
    from .message import validate_category as validate_category
    from .result import Reply as Reply
    from .result import SendResult as SendResult
    from .smtp import AsyncMailer as AsyncMailer
    from .smtp import CheckReport as CheckReport
    from .smtp import Mailer as Mailer
    from .smtp import check_relay as check_relay
    from .store import BatchedSendStore as BatchedSendStore
    from .store import EventStore as EventStore
    from .store import SendRecord as SendRecord
    from .store import SendStore as SendStore
    from .store import SQLAlchemyEventStore as SQLAlchemyEventStore
    from .store import SQLiteEventStore as SQLiteEventStore
    from .store import StoreOutcome as StoreOutcome
    from .store import Suppression as Suppression
    from .store import SuppressionPolicy as SuppressionPolicy
    from .store import apply_suppression as apply_suppression
    from .store import open_store as open_store
    from .templates import Rendered as Rendered
    from .templates import Renderer as Renderer
    from .templates import import_acumbamail as import_acumbamail
    from .templates import render as render
    from .templates import render_message as render_message
    from .webhooks import WebhookReceiver as WebhookReceiver
    from .webhooks import WebhookResponse as WebhookResponse
    from .webhooks import WebhookVerifier as WebhookVerifier
    from .webhooks import parse_events as parse_events
    from .webhooks import receiver_from_settings as receiver_from_settings


#: The user-facing API (the README's names), each with the subpackage that serves it.
_PUBLIC = {
    **homes(".config", "RelayConfig"),
    **homes(".errors", "AcumbamailError", "AuthenticationError", "ConfigError", "ConnectionFailed",
             "InvalidMessage", "PermanentError", "RecipientsRefused", "SendError", "TemplateError",
             "TransientError", "WebhookAuthError", "WebhookError", "WebhookPayloadError", "WebhookTooLarge"),
    **homes(".events", "Event", "EventType"),
    **homes(".healthcheck", "Health", "health"),
    **homes(".message", "Attachment", "Message"),
    **homes(".result", "Reply", "SendResult"),
    **homes(".smtp", "AsyncMailer", "CheckReport", "Mailer", "check_relay"),
    **homes(".store", "EventStore", "SQLAlchemyEventStore", "SQLiteEventStore", "SuppressionPolicy",
             "open_store"),
    **homes(".templates", "Rendered", "Renderer", "import_acumbamail", "render", "render_message"),
    **homes(".webhooks", "WebhookReceiver", "WebhookResponse", "WebhookVerifier"),
}

#: Plumbing the adapters and older code import from the root: still served here, but not part of
#: ``__all__`` (its home is the subpackage named beside it).
_PLUMBING = {
    **homes(".config", "security_for_port"),
    **homes(".errors", "MissingSender"),
    **homes(".message", "CATEGORY_HEADER", "PreparedMessage", "prepare", "validate_category"),
    **homes(".store", "BatchedSendStore", "SendRecord", "SendStore", "StoreOutcome", "Suppression",
             "apply_suppression"),
    **homes(".webhooks", "parse_events", "receiver_from_settings"),
}

__getattr__ = lazy_exports(__name__, {**_PUBLIC, **_PLUMBING})

__version__ = "0.1.0"

__all__ = sorted(_PUBLIC)


def __dir__() -> list[str]:
    """The loaded module attributes plus every lazily served name, for completion and ``help()``."""
    return sorted({*globals(), *_PUBLIC, *_PLUMBING})
