"""Test helpers: :class:`RecordingMailer` validates every message as the real mailer does and keeps
it instead of sending; :func:`record_messages` puts one in place of the app's mailer."""

import contextlib
import itertools
import os
from collections.abc import Iterator

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.message.model import Message, PreparedMessage
from acumbamail_smtp.result import Reply, SendResult
from acumbamail_smtp.store.sqlite import EventStore
from fastapi import FastAPI, Request

from .dependencies import MAILER_STATE, get_mailer
from .mailer import FastAPIMailer

_numbers = itertools.count(1)


class RecordingMailer(FastAPIMailer):
    """A mailer that sends nothing: each message goes through the core's ``prepare`` (so an
    invalid one raises as it would for real) and suppression (with a ``store``), then lands in
    ``outbox`` (the Messages, with ``send_result`` set) and ``prepared`` (their bytes and envelope).
    Results are ``sent`` (``partially_refused`` when some recipients are suppressed, as for real)
    with a made-up queue id. ``config`` defaults to a RelayConfig that only
    serves defaults (``default_from``...)."""

    def __init__(self, config: RelayConfig | None = None, *, store: EventStore | None = None,
                 template_folder: str | os.PathLike[str] | None = None,
                 outbox: list[Message] | None = None) -> None:
        super().__init__(config if config is not None else RelayConfig(), store=store,
                         template_folder=template_folder)
        self.outbox: list[Message] = outbox if outbox is not None else []
        self.prepared: list[PreparedMessage] = []

    async def _with_retries(self, prepared: PreparedMessage) -> SendResult:
        """Record instead of the SMTP exchange (the one network step of the core mailer)."""
        self.prepared.append(prepared)
        if prepared.source is not None:
            self.outbox.append(prepared.source)
        queue_id = f"RECORDED{next(_numbers)}"
        accepted, suppressed = list(prepared.recipients), list(prepared.suppressed)
        return SendResult(prepared.message_id, SendResult.status_for(accepted, {}, suppressed),
                          accepted=accepted, suppressed=suppressed,
                          reply=Reply(250, f"2.0.0 Ok: queued as {queue_id}"), category=prepared.category)


@contextlib.contextmanager
def record_messages(app: FastAPI, *, config: RelayConfig | None = None,
                    store: EventStore | None = None) -> Iterator[list[Message]]:
    """Replace the app's mailer with a :class:`RecordingMailer` (through
    ``app.dependency_overrides``) while inside; yields its outbox. Defaults (``default_from``,
    templates) come from the app's own mailer when its lifespan is running, else from ``config``."""
    outbox: list[Message] = []
    recorders: list[RecordingMailer] = []

    async def recording_mailer(request: Request) -> FastAPIMailer:
        if not recorders:
            real = getattr(request.app.state, MAILER_STATE, None)
            recorders.append(RecordingMailer(
                config if config is not None else real.config if real is not None else None,
                store=store if store is not None else real.store if real is not None else None,
                template_folder=real.template_folder if real is not None else None, outbox=outbox))
        return recorders[0]

    previous = app.dependency_overrides.get(get_mailer)
    app.dependency_overrides[get_mailer] = recording_mailer
    try:
        yield outbox
    finally:
        if previous is None:
            app.dependency_overrides.pop(get_mailer, None)
        else:
            app.dependency_overrides[get_mailer] = previous
