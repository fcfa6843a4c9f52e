"""Sending from Django async views without a thread hop for SMTP: :func:`asend_mail`,
:func:`asend_messages` and ``EmailBackend.asend_messages`` talk to the relay on the running
event loop, over one :class:`~acumbamail_smtp.AsyncMailer` pool per loop and configuration.

    from acumbamail_smtp.integrations.django.aio import asend_mail

    async def signup(request):
        await asend_mail("Welcome", "Hello", None, ["ana@example.com"])

Preparing a message and the ``pre_send``/``post_send`` receivers (project code, which may use the
ORM) run through ``sync_to_async``; the SMTP exchange never leaves the loop.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from acumbamail_smtp.smtp.aio import AsyncMailer
from acumbamail_smtp.store.batched import GatedStore
from django.core import mail
from django.core.mail import EmailMessage, EmailMultiAlternatives

if TYPE_CHECKING:
    from acumbamail_smtp.config import RelayConfig
    from acumbamail_smtp.store.protocols import SendStore

#: Pool connections of each mailer (Django's backend sends one batch over one connection).
POOL_SIZE = 4

_pools: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], AsyncMailer]] = \
    weakref.WeakKeyDictionary()
_pools_lock = threading.Lock()


def loop_mailer(config: RelayConfig, store: SendStore | None, *, suppression: bool = True,
                record: bool = True) -> AsyncMailer:
    """The running loop's :class:`AsyncMailer` for ``config``, ``store`` and the two switches (made
    on first use and kept while the loop lives): each loop gets its own pool, as asyncio
    connections belong to one loop."""
    loop = asyncio.get_running_loop()
    key = (config, id(store), suppression, record)
    with _pools_lock:
        mailers = _pools.setdefault(loop, {})
        mailer = mailers.get(key)
        if mailer is None:
            gated = None if store is None else GatedStore(store, suppression, record)
            mailer = mailers[key] = AsyncMailer(config, pool_size=POOL_SIZE, store=gated)
        return mailer


async def aclose_loop_mailers() -> None:
    """Close the running loop's pooled connections (QUIT), e.g. in an ASGI lifespan shutdown."""
    with _pools_lock:
        mailers = list(_pools.pop(asyncio.get_running_loop(), {}).values())
    await asyncio.gather(*(m.aclose() for m in mailers), return_exceptions=True)


async def asend_messages(messages: Sequence[EmailMessage], *, fail_silently: bool = False,
                         connection: Any = None) -> int:
    """Send ``messages`` with ``connection`` (default: ``get_connection()``): awaited natively when
    the backend has ``asend_messages`` (ours), else its ``send_messages`` in a thread."""
    from asgiref.sync import sync_to_async

    backend = connection or mail.get_connection(fail_silently=fail_silently)
    send = getattr(backend, "asend_messages", None)
    if send is not None:
        return int(await send(list(messages)))
    return int(await sync_to_async(backend.send_messages)(list(messages)))


async def asend_mail(subject: str, message: str, from_email: str | None, recipient_list: Sequence[str],
                     *, fail_silently: bool = False, auth_user: str | None = None,
                     auth_password: str | None = None, connection: Any = None,
                     html_message: str | None = None) -> int:
    """The async twin of Django's ``send_mail``: same arguments, same return value (1 or 0)."""
    backend = connection or mail.get_connection(username=auth_user, password=auth_password,
                                                fail_silently=fail_silently)
    email = EmailMultiAlternatives(subject, message, from_email, list(recipient_list), connection=backend)
    if html_message:
        email.attach_alternative(html_message, "text/html")
    return await asend_messages([email], connection=backend)
