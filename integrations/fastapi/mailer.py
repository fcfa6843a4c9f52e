"""The application's mailer: the core :class:`~acumbamail_smtp.AsyncMailer` (a pool of reused
aiosmtplib connections) that also takes fastapi-mail's ``MessageSchema`` and renders templates
from the application's template folder."""

from __future__ import annotations

import asyncio
import os
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Union, cast

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import InvalidMessage
from acumbamail_smtp.message.model import Message, PreparedMessage
from acumbamail_smtp.result import SendResult
from acumbamail_smtp.smtp.aio import AsyncMailer
from acumbamail_smtp.smtp.policy import AsyncConnection, AsyncRecordingConnection
from acumbamail_smtp.store.batched import SuppressionOnly
from acumbamail_smtp.store.protocols import SendStore

if TYPE_CHECKING:
    from acumbamail_smtp.outbox import Outbox
    from acumbamail_smtp.store.sqlite import EventStore
    from acumbamail_smtp.templates.renderer import Renderer
    from fastapi_mail import MessageSchema

#: What the mailer sends: a core Message or a fastapi-mail MessageSchema.
AnyMessage = Union[Message, "MessageSchema"]


class FastAPIMailer(AsyncMailer):
    """An :class:`~acumbamail_smtp.AsyncMailer` that also accepts ``fastapi_mail.MessageSchema``
    (converted by :func:`~acumbamail_smtp.integrations.fastapi.message_from_schema`) and renders
    ``send_template`` from ``template_folder`` (then the starter templates)."""

    def __init__(self, config: RelayConfig | None = None, *, pool_size: int = 4,
                 store: SendStore | None = None,
                 template_folder: str | os.PathLike[str] | None = None,
                 connection: AsyncConnection | None = None) -> None:
        super().__init__(config, pool_size=pool_size, store=store, connection=connection)
        self.template_folder = os.fspath(template_folder) if template_folder is not None else None
        self._renderer: Renderer | None = None
        self._queue: Outbox | None = None
        #: Set by :meth:`enqueue`, so the lifespan's outbox worker drains at once.
        self.enqueued = asyncio.Event()

    @property
    def outbox_queue(self) -> Outbox:
        """The outbox in the mailer's event store (``ACUMBAMAIL_STORE``), opened on first use."""
        if self._queue is None:
            from acumbamail_smtp.errors import ConfigError
            from acumbamail_smtp.outbox import outbox_for

            if self.store is None:
                raise ConfigError("ACUMBAMAIL_STORE", "the outbox lives in the event store: set one")
            self._queue = outbox_for(self.store)
        return self._queue

    async def enqueue(self, messages: AnyMessage | Sequence[AnyMessage], *,
                      send_after: datetime | None = None, priority: int = 0) -> list[str]:
        """Store messages (Messages or MessageSchemas) in the outbox and return their Message-IDs.

        Validated and prepared here (InvalidMessage is raised before anything is stored); the
        insert runs in a thread. A worker sends them: the lifespan's (``drain_outbox=True``),
        ``acumbamail-smtp worker`` or Celery's ``drain_outbox``."""
        items = list(messages) if isinstance(messages, list | tuple) else [messages]
        cores = [self.to_message(cast("AnyMessage", m)) for m in items]
        outbox = self.outbox_queue
        ids: list[str] = await asyncio.to_thread(outbox.enqueue, cores, config=self.config,
                                                 send_after=send_after, priority=priority)
        self.enqueued.set()
        return ids

    @property
    def renderer(self) -> Renderer:
        """The template renderer for ``template_folder`` (built on first use)."""
        if self._renderer is None:
            from acumbamail_smtp.templates.renderer import Renderer

            self._renderer = Renderer(self.template_folder or ())
        return self._renderer

    def to_message(self, message: AnyMessage, *, template_name: str | None = None,
                   html_template: str | None = None, plain_template: str | None = None,
                   category: str | None = None) -> Message:
        """``message`` as a core Message; a MessageSchema is converted (templates rendered from
        ``template_folder``, attachments read now)."""
        if isinstance(message, Message):
            if template_name or html_template or plain_template:
                raise InvalidMessage("template_name, html_template and plain_template apply to a "
                                     "fastapi-mail MessageSchema; use send_template for a Message")
            if category is not None:
                message.category = category
            return message
        from .schema import message_from_schema  # fastapi-mail is optional: imported when needed

        return message_from_schema(message, default_from=self.config.default_from,
                                   template_name=template_name, html_template=html_template,
                                   plain_template=plain_template, category=category,
                                   renderer=self.renderer)

    async def send(self, message: AnyMessage, *, template_name: str | None = None,
                   category: str | None = None) -> SendResult:
        """Send one Message or MessageSchema; raises RecipientsRefused when nobody accepted it."""
        return await super().send(self.to_message(message, template_name=template_name,
                                                  category=category))

    async def send_many(self, messages: Iterable[AnyMessage]) -> list[SendResult]:
        """Send every message (Messages and MessageSchemas), up to ``pool_size`` at a time."""
        return await super().send_many([self.to_message(m) for m in messages])

    async def send_template(self, name: str, context: dict[str, Any], *, to: str | Sequence[str],
                            category: str | None = None, **fields: Any) -> SendResult:
        """Render template ``name`` (from ``template_folder``, then the starter templates) and send it."""
        return await super().send(self.renderer.render_message(name, context, to=to, category=category,
                                                                **fields))


class _Outbox(AsyncRecordingConnection):
    """The recording connection of a :class:`RecordingMailer`: also keeps each Message."""

    def __init__(self, outbox: list[Message]) -> None:
        super().__init__()
        self.outbox = outbox

    async def send(self, prepared: PreparedMessage) -> SendResult:
        """Record the prepared message, and the Message it came from in ``outbox``."""
        if prepared.source is not None:
            self.outbox.append(prepared.source)
        return await super().send(prepared)


class RecordingMailer(FastAPIMailer):
    """A mailer that sends nothing: the core AsyncMailer with an
    :class:`~acumbamail_smtp.smtp.AsyncRecordingConnection`. Each message goes through the core's
    ``prepare`` (so an invalid one raises as it would for real) and suppression (with a
    ``store``; nothing is recorded there, since nothing was sent), then lands in ``outbox`` (the
    Messages, with ``send_result`` set) and ``prepared`` (their bytes and envelope). Results are ``sent``
    (``partially_refused`` when some recipients are suppressed, as for real) with a made-up queue
    id. ``config`` defaults to a RelayConfig that only serves defaults (``default_from``...).
    It is what ``ACUMBAMAIL_SUPPRESS_SEND`` puts in place of the mailer."""

    def __init__(self, config: RelayConfig | None = None, *, store: EventStore | None = None,
                 template_folder: str | os.PathLike[str] | None = None,
                 outbox: list[Message] | None = None) -> None:
        recorder = _Outbox(outbox if outbox is not None else [])
        super().__init__(config if config is not None else RelayConfig(),
                         store=SuppressionOnly(store) if store is not None else None,
                         template_folder=template_folder, connection=recorder)
        self.outbox: list[Message] = recorder.outbox
        self.prepared: list[PreparedMessage] = recorder.prepared


#: Mailers shared by every AcumbamailFastMail with the same settings, one set per event loop
#: (connections belong to the loop that opened them).
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], FastAPIMailer]] = \
    weakref.WeakKeyDictionary()


def shared_mailer(config: RelayConfig, *, pool_size: int = 4, store: EventStore | None = None,
                  template_folder: str | os.PathLike[str] | None = None) -> FastAPIMailer:
    """The running event loop's mailer for these settings, made on first use: code that builds a
    mailer object per request (as fastapi-mail's examples do) still reuses pooled connections."""
    loop = asyncio.get_running_loop()
    folder = os.path.abspath(template_folder) if template_folder is not None else None
    # ssl_context is left out of RelayConfig's equality, and a store need not be hashable
    key = (config, id(config.ssl_context), pool_size, id(store), folder)
    mailers = _SHARED.setdefault(loop, {})
    mailer = mailers.get(key)
    if mailer is None:
        mailer = mailers[key] = FastAPIMailer(config, pool_size=pool_size, store=store,
                                              template_folder=folder)
    return mailer


async def close_shared_mailers() -> None:
    """Close the pooled connections of the running loop's shared mailers (at shutdown)."""
    mailers = _SHARED.pop(asyncio.get_running_loop(), {})
    await asyncio.gather(*(m.aclose() for m in mailers.values()), return_exceptions=True)
