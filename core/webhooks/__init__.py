"""Webhooks: parsing Acumbamail's posts, verifying them, storing the events, and serving an endpoint."""

from typing import TYPE_CHECKING

from ..lazy import lazy_exports

if TYPE_CHECKING:
    from .api import (
        API_BASE_ENV as API_BASE_ENV,
    )
    from .api import (
        CONFIG_FLAGS as CONFIG_FLAGS,
    )
    from .api import (
        DEFAULT_API_BASE as DEFAULT_API_BASE,
    )
    from .api import (
        INFO_FIELDS as INFO_FIELDS,
    )
    from .api import (
        TOKEN_ENV as TOKEN_ENV,
    )
    from .api import (
        WEBHOOK_EVENTS as WEBHOOK_EVENTS,
    )
    from .api import (
        AcumbamailAPI as AcumbamailAPI,
    )
    from .api import (
        ApiError as ApiError,
    )
    from .api import (
        webhook_events as webhook_events,
    )
    from .receiver import (
        BASIC_REALM as BASIC_REALM,
    )
    from .receiver import (
        DEFAULT_MAX_BODY as DEFAULT_MAX_BODY,
    )
    from .receiver import (
        SIGNATURE_TOLERANCE as SIGNATURE_TOLERANCE,
    )
    from .receiver import (
        EventHandler as EventHandler,
    )
    from .receiver import (
        WebhookReceiver as WebhookReceiver,
    )
    from .receiver import (
        WebhookResponse as WebhookResponse,
    )
    from .receiver import (
        WebhookVerifier as WebhookVerifier,
    )
    from .receiver import (
        parse_events as parse_events,
    )
    from .receiver import (
        receiver_from_settings as receiver_from_settings,
    )
    from .receiver import (
        sign_webhook as sign_webhook,
    )
    from .server import (
        DEFAULT_TIMEOUT as DEFAULT_TIMEOUT,
    )
    from .server import (
        WebhookServer as WebhookServer,
    )

#: Every name is loaded on first use, so importing the package stays cheap.
_HOMES = {
    "API_BASE_ENV": ".api",
    "AcumbamailAPI": ".api",
    "ApiError": ".api",
    "BASIC_REALM": ".receiver",
    "CONFIG_FLAGS": ".api",
    "DEFAULT_API_BASE": ".api",
    "DEFAULT_MAX_BODY": ".receiver",
    "DEFAULT_TIMEOUT": ".server",
    "EventHandler": ".receiver",
    "INFO_FIELDS": ".api",
    "SIGNATURE_TOLERANCE": ".receiver",
    "TOKEN_ENV": ".api",
    "WEBHOOK_EVENTS": ".api",
    "WebhookReceiver": ".receiver",
    "WebhookResponse": ".receiver",
    "WebhookServer": ".server",
    "WebhookVerifier": ".receiver",
    "parse_events": ".receiver",
    "receiver_from_settings": ".receiver",
    "sign_webhook": ".receiver",
    "webhook_events": ".api",
}

__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = sorted(_HOMES)
