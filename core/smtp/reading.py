"""Bounded SMTP replies: one parser that both transports feed, so no relay can make a reply endless.

A reply is refused, and the connection given up, when it has more than ``max_reply_lines``
lines, a line longer than ``max_reply_line`` bytes, more than ``max_reply_bytes`` in all, or is
not complete within ``reply_timeout`` seconds of being awaited (see :class:`ReplyLimits`). The
parser keeps its scan position, so each byte is looked at once however the reply is fragmented.
:class:`SocketReplies` reads with it from a blocking socket (the sync mailer, setup included);
the asyncio reader is :class:`~acumbamail_smtp.smtp.aio_protocol.ReplyReader`.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

from ..config import RelayConfig
from ..errors import ConnectionFailed
from ..result import Reply

#: The default longest reply line (RFC 5321 allows 512 octets; servers send longer EHLO lines).
MAX_REPLY_LINE = 2048
#: How much of a partly parsed buffer may be kept before the parsed front is dropped.
_COMPACT_AT = 65536


@dataclass(frozen=True, slots=True)
class ReplyLimits:
    """What one reply may be: lines, bytes per line and in all, and seconds to arrive complete."""

    lines: int = 100
    line_bytes: int = MAX_REPLY_LINE
    reply_bytes: int = 32768
    seconds: float = 30.0

    @classmethod
    def of(cls, config: RelayConfig) -> ReplyLimits:
        """The limits ``config`` sets (``max_reply_*`` and ``reply_timeout``)."""
        return cls(config.max_reply_lines, config.max_reply_line, config.max_reply_bytes,
                   config.reply_deadline)

    def late(self, seconds: float | None = None) -> ReplyError:
        """The error for a reply that did not arrive complete in time (``seconds``, else the limit)."""
        return ReplyError(f"no complete reply from the relay within {seconds or self.seconds:g} s")

    def check(self, code: int, text: str) -> None:
        """Raise :class:`ReplyError` when an already parsed reply (aiosmtplib's) breaks the limits."""
        lines = text.split("\n")
        if len(lines) > self.lines:
            raise ReplyError(f"the relay's reply exceeded {self.lines} lines")
        if any(len(line.encode("utf-8", "surrogateescape")) + 6 > self.line_bytes for line in lines):
            raise ReplyError(f"the relay sent a reply line longer than {self.line_bytes} bytes")
        if len(text) + 6 * len(lines) > self.reply_bytes:
            raise ReplyError(f"the relay's reply exceeded {self.reply_bytes} bytes")


class ReplyError(ConnectionError):
    """The relay's reply broke a limit or is not SMTP: the connection cannot be trusted any more."""


def broken_reply(where: str, exc: ReplyError) -> ConnectionFailed:
    """The :class:`ConnectionFailed` that says what the relay at ``where`` did."""
    return ConnectionFailed(f"gave up on the relay {where}: {exc}")


def parse_reply_line(line: bytes, longest: int = MAX_REPLY_LINE) -> tuple[int, bool, bytes]:
    """``(code, last, text)`` of one reply line; :class:`ReplyError` when it is not SMTP."""
    code = line[:3]
    separator = line[3:4]
    if len(line) > longest:
        raise ReplyError(f"the relay sent a reply line longer than {longest} bytes")
    if not code.isdigit() or separator not in (b" ", b"-", b"\r", b"\n", b""):
        raise ReplyError(f"malformed reply from the relay: {line[:80]!r}")
    return int(code), separator != b"-", line[4:].strip(b" \t\r\n")


def reply_from_lines(code: int, lines: list[bytes]) -> Reply:
    """The :class:`Reply` of a reply's parsed lines (texts joined with newlines)."""
    return Reply(code, b"\n".join(lines).decode("utf-8", "replace"))


class ReplyParser:
    """Turns the relay's bytes, fed as they come, into whole replies in order, within ``limits``.

    Sans I/O: :meth:`feed` stores, :meth:`next_reply` parses from where the last call stopped.
    """

    def __init__(self, limits: ReplyLimits) -> None:
        self.limits = limits
        self._buffer = bytearray()
        self._start = 0  # where the line being parsed begins
        self._scan = 0  # where the search for its end resumes (bytes before it hold no LF)
        self._lines: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> None:
        """Store bytes from the relay."""
        self._buffer += data

    def next_reply(self) -> Reply | None:
        """The next whole reply, or None until more is fed; :class:`ReplyError` past a limit."""
        buffer, limits = self._buffer, self.limits
        while True:
            end = buffer.find(b"\n", self._scan)
            if end < 0:
                if len(buffer) - self._start > limits.line_bytes:
                    raise ReplyError(f"the relay sent a reply line longer than {limits.line_bytes} bytes")
                self._scan = len(buffer)
                self._compact()
                return None
            line = bytes(buffer[self._start:end + 1])
            self._start = self._scan = end + 1
            code, last, text = parse_reply_line(line, limits.line_bytes)
            self._lines.append(text)
            self._size += len(line)
            if len(self._lines) > limits.lines:
                raise ReplyError(f"the relay's reply exceeded {limits.lines} lines")
            if self._size > limits.reply_bytes:
                raise ReplyError(f"the relay's reply exceeded {limits.reply_bytes} bytes")
            if last:
                lines, self._lines, self._size = self._lines, [], 0
                if self._start > _COMPACT_AT:
                    self._compact()
                return reply_from_lines(code, lines)

    def _compact(self) -> None:
        """Drop the parsed front of the buffer."""
        if self._start:
            del self._buffer[:self._start]
            self._scan -= self._start
            self._start = 0


class SocketReplies:
    """Whole replies from a blocking socket, within the limits: ``timeout`` still bounds each
    read, and the reply as a whole must be complete within ``limits.seconds``."""

    def __init__(self, sock: socket.socket, limits: ReplyLimits) -> None:
        self.sock = sock
        self.parser = ReplyParser(limits)

    def read(self) -> Reply:
        """The next reply; :class:`ReplyError` past a limit, ``ConnectionError`` if the relay hung up."""
        parser, sock = self.parser, self.sock
        reply = parser.next_reply()
        if reply is not None:
            return reply
        deadline = time.monotonic() + parser.limits.seconds
        idle = sock.gettimeout()
        try:
            while (reply := parser.next_reply()) is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise parser.limits.late()
                sock.settimeout(left if idle is None else min(idle, left))
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    if idle is not None and idle < left:
                        raise ReplyError(f"the relay sent nothing for {idle:g} s") from None
                    continue
                if not chunk:
                    raise ConnectionError("the relay closed the connection")
                parser.feed(chunk)
        finally:
            sock.settimeout(idle)
        return reply
