"""acumbamail-smtp: send transactional email through Acumbamail's SMTP relay and learn what became
of every message.

The names the README documents are importable from here; each one is imported on first use (PEP
562), so ``import acumbamail_smtp`` loads neither the transports (smtplib, ssl, asyncio,
aiosmtplib) nor the store (sqlite3) nor the templates (jinja2) until a program asks for them.
Everything else lives in its subpackage (``acumbamail_smtp.smtp``, ``.store``, ``.message``...).
"""

from typing import TYPE_CHECKING

from .lazy import lazy_exports

if TYPE_CHECKING:
    from .config import RelayConfig as RelayConfig
    from .config import security_for_port as security_for_port
    from .errors import AcumbamailError as AcumbamailError
    from .errors import AuthenticationError as AuthenticationError
    from .errors import ConfigError as ConfigError
    from .errors import ConnectionFailed as ConnectionFailed
    from .errors import InvalidMessage as InvalidMessage
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
    from .message.categories import CATEGORY_HEADER as CATEGORY_HEADER
    from .message.categories import validate_category as validate_category
    from .message.model import Attachment as Attachment
    from .message.model import Message as Message
    from .message.model import PreparedMessage as PreparedMessage
    from .message.model import prepare as prepare
    from .result import Reply as Reply
    from .result import SendResult as SendResult
    from .smtp.aio import AsyncMailer as AsyncMailer
    from .smtp.diagnostics import CheckReport as CheckReport
    from .smtp.diagnostics import check_relay as check_relay
    from .smtp.sync import Mailer as Mailer
    from .store.sqlalchemy import SQLAlchemyEventStore as SQLAlchemyEventStore
    from .store.sqlite import BatchedSendStore as BatchedSendStore
    from .store.sqlite import EventStore as EventStore
    from .store.sqlite import SendRecord as SendRecord
    from .store.sqlite import SendStore as SendStore
    from .store.sqlite import SQLiteEventStore as SQLiteEventStore
    from .store.sqlite import StoreOutcome as StoreOutcome
    from .store.sqlite import open_store as open_store
    from .store.suppression import Suppression as Suppression
    from .store.suppression import SuppressionPolicy as SuppressionPolicy
    from .store.suppression import apply_suppression as apply_suppression
    from .templates.renderer import Rendered as Rendered
    from .templates.renderer import Renderer as Renderer
    from .templates.renderer import import_acumbamail as import_acumbamail
    from .templates.renderer import render as render
    from .templates.renderer import render_message as render_message
    from .webhooks.receiver import WebhookReceiver as WebhookReceiver
    from .webhooks.receiver import WebhookResponse as WebhookResponse
    from .webhooks.receiver import WebhookVerifier as WebhookVerifier
    from .webhooks.receiver import parse_events as parse_events
    from .webhooks.receiver import receiver_from_settings as receiver_from_settings


def _homes(module: str, *names: str) -> dict[str, str]:
    """``{name: module}`` for each name: where ``lazy_exports`` finds it."""
    return dict.fromkeys(names, module)


#: The user-facing API (the README's names), each with the module that defines it.
_PUBLIC = {
    **_homes(".config", "RelayConfig"),
    **_homes(".errors", "AcumbamailError", "AuthenticationError", "ConfigError", "ConnectionFailed",
             "InvalidMessage", "PermanentError", "RecipientsRefused", "SendError", "TemplateError",
             "TransientError", "WebhookAuthError", "WebhookError", "WebhookPayloadError", "WebhookTooLarge"),
    **_homes(".events", "Event", "EventType"),
    **_homes(".message.model", "Attachment", "Message"),
    **_homes(".result", "Reply", "SendResult"),
    **_homes(".smtp.aio", "AsyncMailer"),
    **_homes(".smtp.diagnostics", "CheckReport", "check_relay"),
    **_homes(".smtp.sync", "Mailer"),
    **_homes(".store.sqlalchemy", "SQLAlchemyEventStore"),
    **_homes(".store.sqlite", "EventStore", "SQLiteEventStore", "open_store"),
    **_homes(".store.suppression", "SuppressionPolicy"),
    **_homes(".templates.renderer", "Rendered", "Renderer", "import_acumbamail", "render", "render_message"),
    **_homes(".webhooks.receiver", "WebhookReceiver", "WebhookResponse", "WebhookVerifier"),
}

#: Plumbing the adapters and older code import from the root: still served here, but not part of
#: ``__all__`` (its home is the subpackage named beside it).
_PLUMBING = {
    **_homes(".config", "security_for_port"),
    **_homes(".message.categories", "CATEGORY_HEADER", "validate_category"),
    **_homes(".message.model", "PreparedMessage", "prepare"),
    **_homes(".store.sqlite", "BatchedSendStore", "SendRecord", "SendStore", "StoreOutcome"),
    **_homes(".store.suppression", "Suppression", "apply_suppression"),
    **_homes(".webhooks.receiver", "parse_events", "receiver_from_settings"),
}

__getattr__ = lazy_exports(__name__, {**_PUBLIC, **_PLUMBING})

__version__ = "0.1.0"

__all__ = sorted(_PUBLIC)


def __dir__() -> list[str]:
    """The loaded module attributes plus every lazily served name, for completion and ``help()``."""
    return sorted({*globals(), *_PUBLIC, *_PLUMBING})
