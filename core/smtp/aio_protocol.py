"""The asyncio side of the exchange in :mod:`~acumbamail_smtp.smtp.protocol`: a reply reader that
is the transport's protocol while a message is sent, and the driver over it. Kept apart so that
the synchronous mailer never imports asyncio."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..result import Reply, SendResult
from .protocol import (
    MAX_REPLY_LINE,
    Exchange,
    LostAfterData,
    advance,
    ends_data,
    parse_reply_line,
    reply_from_lines,
)


class ReplyReader(asyncio.Protocol):
    """Collects the relay's bytes and hands out whole replies in order, however they arrive."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._waiter: asyncio.Future[None] | None = None
        self._closed = False

    def data_received(self, data: bytes) -> None:
        self._buffer += data
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

    def _take(self) -> Reply | None:
        buffer = self._buffer
        lines: list[bytes] = []
        start = 0
        while True:
            end = buffer.find(b"\n", start)
            if end < 0:
                if len(buffer) - start > MAX_REPLY_LINE:
                    raise ConnectionError("reply line from the relay too long")
                return None
            code, last, text = parse_reply_line(bytes(buffer[start:end + 1]))
            lines.append(text)
            start = end + 1
            if last:
                del buffer[:start]
                return reply_from_lines(code, lines)

    async def reply(self, seconds: float | None) -> Reply:
        """The next reply; ``ConnectionError`` if the relay hung up, ``TimeoutError`` if it is silent."""
        while True:
            answer = self._take()
            if answer is not None:
                return answer
            if self._closed:
                raise ConnectionError("the relay closed the connection")
            self._waiter = asyncio.get_running_loop().create_future()
            await asyncio.wait_for(self._waiter, seconds)


async def run_async(steps: Exchange, transport: asyncio.Transport, reader: ReplyReader,
                    seconds: float | None,
                    trace: Callable[[str, object], None] | None = None) -> SendResult:
    """Drive ``steps`` over ``transport``, whose protocol is ``reader`` for the duration;
    ``seconds`` bounds the wait for each reply; ``trace`` sees each write and reply."""
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
