"""The asyncio side of the exchange in :mod:`~acumbamail_smtp.smtp.protocol`: a reply reader that
is the transport's protocol while a message is sent, and the driver over it. Kept apart so that
the synchronous mailer never imports asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..errors import ConnectionFailed
from ..message.model import PreparedMessage
from ..result import Reply, SendResult
from .protocol import Exchange, LostAfterData, advance, ends_data
from .reading import ReplyError, ReplyLimits, ReplyParser
from .stream import PULL, Lost, Outcome, Stream


class ReplyReader(asyncio.Protocol):
    """Collects the relay's bytes and hands out whole replies in order, however they arrive,
    within ``limits``: a packet is only stored, and each byte is scanned once, when a reply is
    awaited (never the whole buffer again per packet)."""

    def __init__(self, limits: ReplyLimits | None = None) -> None:
        self._parser = ReplyParser(limits or ReplyLimits())
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        self._wake()

    def eof_received(self) -> bool:
        self._closed = True
        self._wake()
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._wake()

    def _wake(self) -> None:
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def reply(self, seconds: float | None = None) -> Reply:
        """The next reply, complete within ``seconds`` (default: the limits' deadline);
        ``ConnectionError`` if the relay hung up, :class:`~acumbamail_smtp.smtp.reading.ReplyError`
        past a limit or the deadline."""
        answer = self._parser.next_reply()
        if answer is not None:  # already here (the common case when replies come in groups)
            return answer
        limits = self._parser.limits
        loop = asyncio.get_running_loop()
        seconds = limits.seconds if seconds is None else seconds
        deadline = loop.time() + seconds
        while (answer := self._parser.next_reply()) is None:
            if self._closed:
                raise ConnectionError("the relay closed the connection")
            if deadline <= loop.time():
                raise limits.late(seconds)
            # One timer per wait instead of wait_for's task: this runs once per reply.
            self._waiter = waiter = loop.create_future()
            timer = loop.call_at(deadline, self._wake)
            try:
                await waiter
            finally:
                timer.cancel()
        return answer


async def run_async(steps: Exchange, transport: asyncio.Transport, reader: ReplyReader,
                    seconds: float | None = None,
                    trace: Callable[[str, object], None] | None = None) -> SendResult:
    """Drive ``steps`` over ``transport``, whose protocol is ``reader`` for the duration;
    ``seconds`` bounds each whole reply (default: the reader's limits); ``trace`` sees each write
    and reply."""
    answer: Reply | None = None
    after_data = False
    while not isinstance(step := advance(steps, answer, trace), SendResult):
        if step is None:
            try:
                answer = await reader.reply(seconds)
            except OSError as exc:  # TimeoutError is one
                if after_data:
                    raise LostAfterData(f"{exc or type(exc).__name__} (after end-of-data, "
                                        "before the reply)") from exc
                raise
            after_data = False
        else:
            if transport.is_closing():
                raise ConnectionError("the connection to the relay is closed")
            transport.write(step)
            after_data = ends_data(step)
            answer = None
    return step


async def drive(steps: Stream, transport: asyncio.Transport, reader: ReplyReader,
                pull: Callable[[], Awaitable[PreparedMessage | None]], report: Callable[[Outcome], None],
                lost: Callable[[Exception], ConnectionFailed],
                trace: Callable[[str, object], None] | None = None,
                waiting: Callable[[], None] | None = None) -> bool:
    """Step through the pipelined ``steps`` over ``transport`` (whose protocol is ``reader``),
    handing each message's :class:`Outcome` to ``report`` as soon as it is known; returns whether
    the connection is still usable. The async twin of :func:`~.stream.drive`."""
    answer: Reply | PreparedMessage | None = None
    fault: Lost | None = None
    while True:
        try:
            step = steps.send(answer) if fault is None else steps.throw(fault)
        except StopIteration as stop:
            return bool(stop.value)
        answer = fault = None
        if step is PULL:
            answer = await pull()
        elif isinstance(step, Outcome):
            report(step)
        elif step is None:
            try:
                answer = await reader.reply()
            except (OSError, ReplyError) as exc:  # TimeoutError is an OSError
                fault = Lost(lost(exc))
                continue
            if trace:
                trace("reply:", answer)
        else:
            assert isinstance(step, bytes)
            if transport.is_closing():
                fault = Lost(lost(ConnectionError("the relay closed the connection")))
                continue
            if trace:
                trace("send:", step if len(step) < 2048 else f"<{len(step)} bytes>")
            transport.write(step)
            if waiting is not None:
                waiting()
