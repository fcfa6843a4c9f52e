"""Test helpers: :func:`record_messages` puts a :class:`RecordingMailer` (which validates every
message as the real mailer does and keeps it instead of sending) in place of the app's mailer.

``RecordingMailer`` lives in :mod:`.mailer` (``ACUMBAMAIL_SUPPRESS_SEND`` uses it too, and the
production modules must not import this one); it is re-exported here for tests.
"""

import contextlib
from collections.abc import Iterator

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.message.model import Message
from acumbamail_smtp.store.sqlite import EventStore
from fastapi import FastAPI, Request

from .dependencies import MAILER_STATE, get_mailer
from .mailer import FastAPIMailer, RecordingMailer

__all__ = ["RecordingMailer", "record_messages"]


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
