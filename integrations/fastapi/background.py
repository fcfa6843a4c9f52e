"""Sending after the response: :func:`send_in_background` validates the message in the request
and sends it from FastAPI's ``BackgroundTasks``, handing the result to a callback and the log."""

import inspect
import logging
from collections.abc import Callable

from acumbamail_smtp.errors import AcumbamailError, RecipientsRefused
from acumbamail_smtp.message import PreparedMessage, prepare
from acumbamail_smtp.result import SendResult
from fastapi import BackgroundTasks

from .mailer import AnyMessage, FastAPIMailer

logger = logging.getLogger("acumbamail_smtp.fastapi")

#: Called with the result of a background send (may be a coroutine function).
ResultCallback = Callable[[SendResult], object]
#: Called with the message id and the error when a background send fails.
ErrorCallback = Callable[[str, Exception], object]


def send_in_background(background_tasks: BackgroundTasks, message: AnyMessage, *,
                       mailer: FastAPIMailer, on_result: ResultCallback | None = None,
                       on_error: ErrorCallback | None = None,
                       template_name: str | None = None) -> str:
    """Send ``message`` (a Message or MessageSchema) after the response and return its Message-ID.

    The message is validated, its attachments read and its bytes made now, so a bad message
    raises :class:`~acumbamail_smtp.InvalidMessage` in the request. The send's
    :class:`SendResult` (also a ``refused`` one) goes to ``on_result`` and the log; a failure is
    logged with the message id (never a secret) and handed to ``on_error``.
    """
    prepared = prepare(mailer.to_message(message, template_name=template_name), mailer.config)
    background_tasks.add_task(deliver, mailer, prepared, on_result, on_error)
    return prepared.message_id


async def deliver(mailer: FastAPIMailer, prepared: PreparedMessage,
                  on_result: ResultCallback | None = None, on_error: ErrorCallback | None = None) -> None:
    """Send one prepared message and report the outcome (the task :func:`send_in_background` adds)."""
    message_id = prepared.message_id
    try:
        result = await mailer.send_prepared(prepared)
    except RecipientsRefused as exc:
        result = exc.result
        logger.warning("message %s not sent: %s", message_id, exc)
    except AcumbamailError as exc:
        logger.error("message %s could not be sent: %s", message_id, exc)
        await _call(on_error, "on_error", message_id, message_id, exc)
        return
    else:
        logger.info("message %s %s (queue id %s): %d accepted, %d refused, %d suppressed", message_id,
                    result.status, result.queue_id, len(result.accepted), len(result.refused),
                    len(result.suppressed))
    await _call(on_result, "on_result", message_id, result)


async def _call(callback: Callable[..., object] | None, what: str, message_id: str,
                *args: object) -> None:
    if callback is None:
        return
    try:
        outcome = callback(*args)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.exception("%s callback failed for message %s", what, message_id)
