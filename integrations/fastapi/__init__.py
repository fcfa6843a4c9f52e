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

from typing import TYPE_CHECKING

from acumbamail_smtp.lazy import lazy_exports

from .background import send_in_background
from .dependencies import MailerDep, StoreDep, acumbamail_lifespan, get_event_store, get_mailer
from .health import health_router
from .mailer import FastAPIMailer, close_shared_mailers, shared_mailer
from .reports import reports_router
from .settings import AcumbamailSettings
from .testing import RecordingMailer, record_messages
from .webhooks import WebhookRouter, webhook_router

if TYPE_CHECKING:
    from .interop import AcumbamailFastMail, EmptyMessagesList, from_fastapi_mail, message_from_schema

#: Loaded on first use, so the dependency works without fastapi-mail installed.
_LAZY = {name: ".interop" for name in ("AcumbamailFastMail", "EmptyMessagesList", "from_fastapi_mail",
                                       "message_from_schema")}


__getattr__ = lazy_exports(__name__, _LAZY)


__all__ = [
    "AcumbamailFastMail",
    "AcumbamailSettings",
    "EmptyMessagesList",
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
    "health_router",
    "message_from_schema",
    "record_messages",
    "reports_router",
    "send_in_background",
    "shared_mailer",
    "webhook_router",
]
