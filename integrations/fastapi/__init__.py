"""FastAPI integration: the application's shared :class:`FastAPIMailer` (pooled connections)
as a dependency, settings from ``ACUMBAMAIL_*`` variables, background sends, the webhook router,
fastapi-mail interoperability and test helpers.

    from acumbamail_smtp.integrations.fastapi import MailerDep, acumbamail_lifespan, webhook_router

    app = FastAPI(lifespan=acumbamail_lifespan)
    app.include_router(webhook_router(), prefix="/acumbamail")

    @app.post("/welcome")
    async def welcome(mailer: MailerDep) -> dict[str, str]:
        result = await mailer.send_template("notification", {...}, to="ana@example.org")
        return {"status": result.status}
"""

import importlib
from typing import TYPE_CHECKING, Any

from .background import send_in_background
from .dependencies import MailerDep, StoreDep, acumbamail_lifespan, get_event_store, get_mailer
from .mailer import FastAPIMailer, close_shared_mailers, shared_mailer
from .reports import reports_router
from .settings import AcumbamailSettings
from .testing import RecordingMailer, record_messages
from .webhooks import WebhookRouter, webhook_router

if TYPE_CHECKING:
    from .interop import AcumbamailFastMail, from_fastapi_mail, message_from_schema

#: Loaded on first use, so the dependency works without fastapi-mail installed.
_LAZY = {name: "interop" for name in ("AcumbamailFastMail", "from_fastapi_mail", "message_from_schema")}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "AcumbamailFastMail",
    "AcumbamailSettings",
    "FastAPIMailer",
    "MailerDep",
    "RecordingMailer",
    "StoreDep",
    "WebhookRouter",
    "acumbamail_lifespan",
    "close_shared_mailers",
    "from_fastapi_mail",
    "get_event_store",
    "get_mailer",
    "message_from_schema",
    "record_messages",
    "reports_router",
    "send_in_background",
    "shared_mailer",
    "webhook_router",
]
