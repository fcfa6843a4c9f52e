"""Webhooks: parsing Acumbamail's posts (``parse``), verifying them (``verify``), storing the events
(``receiver``), building a receiver from settings (``settings``), serving an endpoint (``server``)
and configuring the account's webhook through Acumbamail's API (``api``).

Every name is loaded on first use, so importing the package stays cheap.
"""

from typing import TYPE_CHECKING

from ..lazy import homes, lazy_exports

if TYPE_CHECKING:
    from .api import API_BASE_ENV as API_BASE_ENV
    from .api import CONFIG_FLAGS as CONFIG_FLAGS
    from .api import DEFAULT_API_BASE as DEFAULT_API_BASE
    from .api import INFO_FIELDS as INFO_FIELDS
    from .api import TOKEN_ENV as TOKEN_ENV
    from .api import WEBHOOK_EVENTS as WEBHOOK_EVENTS
    from .api import AcumbamailAPI as AcumbamailAPI
    from .api import ApiError as ApiError
    from .api import webhook_events as webhook_events
    from .parse import parse_events as parse_events
    from .receiver import DEFAULT_MAX_BODY as DEFAULT_MAX_BODY
    from .receiver import EventHandler as EventHandler
    from .receiver import WebhookReceiver as WebhookReceiver
    from .receiver import WebhookResponse as WebhookResponse
    from .server import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
    from .server import WebhookServer as WebhookServer
    from .settings import WEBHOOK_KEYS as WEBHOOK_KEYS
    from .settings import cached_receiver as cached_receiver
    from .settings import receiver_from_settings as receiver_from_settings
    from .verify import BASIC_REALM as BASIC_REALM
    from .verify import SIGNATURE_TOLERANCE as SIGNATURE_TOLERANCE
    from .verify import WebhookVerifier as WebhookVerifier
    from .verify import sign_webhook as sign_webhook

_HOMES = {
    **homes(".api", "API_BASE_ENV", "AcumbamailAPI", "ApiError", "CONFIG_FLAGS", "DEFAULT_API_BASE",
            "INFO_FIELDS", "TOKEN_ENV", "WEBHOOK_EVENTS", "webhook_events"),
    **homes(".parse", "parse_events"),
    **homes(".receiver", "DEFAULT_MAX_BODY", "EventHandler", "WebhookReceiver", "WebhookResponse"),
    **homes(".server", "DEFAULT_TIMEOUT", "WebhookServer"),
    **homes(".settings", "WEBHOOK_KEYS", "cached_receiver", "receiver_from_settings"),
    **homes(".verify", "BASIC_REALM", "SIGNATURE_TOLERANCE", "WebhookVerifier", "sign_webhook"),
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
