"""A lean SMTP sink on 127.0.0.1 for the benchmark and the pipelining conformance tests.

Speaks just enough ESMTP: EHLO (PIPELINING optional, CHUNKING optional, SIZE, 8BITMIME, AUTH
PLAIN LOGIN), AUTH (any credentials), MAIL, RCPT (addresses in ``refuse`` get ``refuse_code``),
DATA, BDAT (with ``chunking``: raw chunks, ``LAST`` ends the message), RSET, NOOP, QUIT.
``delay`` adds latency to every reply without serializing them, as a slow link does: the reply
to a command leaves ``delay`` seconds after the command arrived (for BDAT, after its chunk's
last octet), in order. ``hold`` keeps replies to MAIL/RCPT until DATA (or BDAT) arrives, as
RFC 2920 allows a server to: a client that waits for each reply before the next command then
stalls. Run ``python benchmarks/sink.py PORT``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import threading
from dataclasses import dataclass, field

HOST = "127.0.0.1"


@dataclass
class SinkStats:
    """What the sink saw (shared by every connection)."""

    messages: int = 0
    sessions: int = 0
    unknown_commands: list[bytes] = field(default_factory=list)
    #: times a command arrived in one packet with the one before it (pipelined)
    batched_commands: int = 0
    commands: list[bytes] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    #: BDAT chunks read (LAST ones included)
    chunks: int = 0


class SinkProtocol(asyncio.Protocol):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.buffer = bytearray()
        self.in_data = False
        self.auth_login = 0
        self.rcpts = 0
        self.held: list[bytes] = []
        self.ready_at = 0.0
        self.transport: asyncio.Transport | None = None
        # CHUNKING: octets of the current chunk still to come, whether it is LAST, its size, and
        # the message so far (kept only when recording)
        self.chunk_left = 0
        self.chunk_last = False
        self.chunk_size = 0
        self.chunk_body = bytearray()
        self.dead = False  # a bad BDAT size: nothing more is read
        # Without delay, the replies to one read go out in one write (None: outside a read).
        self.pending: list[bytes] | None = None
        self.close_after_pending = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sink.stats.sessions += 1
        self.reply(b"220 sink ESMTP ready")

    def reply(self, line: bytes, close: bool = False) -> None:
        assert self.transport is not None
        delay = self.sink.delay
        if not delay:
            if self.pending is None:
                self._write(line + b"\r\n", close)
            else:
                self.pending.append(line + b"\r\n")
                self.close_after_pending |= close
            return
        loop = asyncio.get_running_loop()
        # Latency, not slowness: each reply leaves `delay` after its command, in order (timers
        # due at the same moment run in no set order, hence one timer per distinct moment).
        self.ready_at = max(self.ready_at + 1e-6, loop.time() + delay)
        loop.call_at(self.ready_at, self._write, line + b"\r\n", close)

    def _write(self, data: bytes, close: bool) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)
            if close:
                self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.dead:
            return
        self.pending = []
        try:
            self.take(data)
        finally:
            pending, self.pending = self.pending, None
            if pending:
                self._write(b"".join(pending), self.close_after_pending)

    def take(self, data: bytes) -> None:
        """Act on every whole command and chunk in the buffer (and ``data``)."""
        self.buffer += data
        commands = 0
        while self.buffer:
            if self.chunk_left:
                take = min(self.chunk_left, len(self.buffer))
                if self.sink.record:
                    self.chunk_body += self.buffer[:take]
                del self.buffer[:take]
                self.chunk_left -= take
                if self.chunk_left:
                    return
                self.end_chunk()
                continue
            if self.in_data:
                if self.buffer.startswith(b".\r\n"):
                    body, skip = b"", 3  # an empty message: the dot right after 354
                else:
                    end = self.buffer.find(b"\r\n.\r\n")
                    if end < 0:
                        return
                    body, skip = bytes(self.buffer[: end + 2]), end + 5
                del self.buffer[:skip]
                self.in_data = False
                if self.sink.record:
                    self.sink.stats.bodies.append(body)
                self.sink.stats.messages += 1
                self.reply(b"250 2.0.0 Ok: queued as %X" % self.sink.stats.messages)
                continue
            end = self.buffer.find(b"\r\n")
            if end < 0:
                return
            line = bytes(self.buffer[:end])
            del self.buffer[: end + 2]
            commands += 1
            if commands > 1:
                self.sink.stats.batched_commands += 1
            self.command(line)
            if self.dead:
                return

    def command(self, line: bytes) -> None:
        sink = self.sink
        if sink.record:
            sink.stats.commands.append(line)
        if self.auth_login:
            self.auth_login -= 1
            self.reply(b"334 UGFzc3dvcmQ6" if self.auth_login else b"235 2.7.0 Authentication successful")
            return
        verb = line[:4].upper()
        if verb == b"MAIL":
            self.rcpts = 0
            self.answer(b"250 2.1.0 Ok")
        elif verb == b"RCPT":
            address = line.partition(b":")[2].strip().strip(b"<>").split(b">")[0].decode().lower()
            if address in sink.refuse:
                self.answer(
                    b"%d 5.1.1 <%s>: Recipient address rejected" % (sink.refuse_code, address.encode())
                )
            else:
                self.rcpts += 1
                self.answer(b"250 2.1.5 Ok")
        elif verb == b"DATA":
            self.flush()
            if self.rcpts or sink.accept_empty_data:
                self.in_data = True
                self.reply(b"354 End data with <CR><LF>.<CR><LF>")
            else:
                self.reply(b"554 5.5.1 Error: no valid recipients")
        elif verb == b"BDAT" and sink.chunking:
            self.flush()
            words = line.split()
            if (
                not 2 <= len(words) <= 3
                or not words[1].isdigit()
                or (len(words) == 3 and words[2].upper() != b"LAST")
            ):
                # The chunk's end cannot be found: nothing after this can be read in step.
                self.dead = True
                self.buffer.clear()
                self.reply(b"501 5.5.4 Syntax: BDAT <size> [LAST]", close=True)
                return
            self.chunk_size = self.chunk_left = int(words[1])
            self.chunk_last = len(words) == 3
            if not self.chunk_left:
                self.end_chunk()
        elif verb in (b"EHLO", b"HELO"):
            lines = [b"250-sink", b"250-SIZE 10240000", b"250-8BITMIME", b"250-AUTH PLAIN LOGIN"]
            if sink.pipelining:
                lines.append(b"250-PIPELINING")
            if sink.chunking:
                lines.append(b"250-CHUNKING")
            lines.append(b"250 ENHANCEDSTATUSCODES")
            self.reply(b"\r\n".join(lines))
        elif verb == b"AUTH":
            if line.upper().startswith(b"AUTH LOGIN"):
                self.auth_login = 2
                self.reply(b"334 VXNlcm5hbWU6")
            else:
                self.reply(b"235 2.7.0 Authentication successful")
        elif verb == b"RSET":
            self.rcpts = 0
            self.flush()
            self.reply(b"250 2.0.0 Ok")
        elif verb == b"NOOP":
            self.flush()
            self.reply(b"250 2.0.0 Ok")
        elif verb == b"QUIT":
            self.flush()
            self.reply(b"221 2.0.0 Bye", close=True)
        else:
            sink.stats.unknown_commands.append(line)
            self.flush()
            self.reply(b"502 5.5.2 Error: command not recognized")

    def end_chunk(self) -> None:
        """A BDAT chunk has been read whole: acknowledge it, or at LAST take the message."""
        sink = self.sink
        sink.stats.chunks += 1
        if not (self.rcpts or sink.accept_empty_data):
            self.chunk_body.clear()
            self.reply(b"503 5.5.1 Error: no valid recipients")
        elif not self.chunk_last:
            self.reply(b"250 2.0.0 %d octets received" % self.chunk_size)
        else:
            if sink.record:
                sink.stats.bodies.append(bytes(self.chunk_body))
                self.chunk_body.clear()
            sink.stats.messages += 1
            self.rcpts = 0  # the transaction is over: another LAST needs a new MAIL and RCPT
            self.reply(b"250 2.0.0 Ok: queued as %X" % sink.stats.messages)

    def answer(self, line: bytes) -> None:
        if self.sink.hold:
            self.held.append(line)
        else:
            self.reply(line)

    def flush(self) -> None:
        if self.held:
            self.reply(b"\r\n".join(self.held))
            self.held = []

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


class Sink:
    """The sink in a background thread: ``with Sink(...) as sink: sink.port``."""

    def __init__(
        self,
        *,
        pipelining: bool = True,
        chunking: bool = False,
        delay: float = 0.0,
        hold: bool = False,
        refuse: set[str] | None = None,
        refuse_code: int = 550,
        accept_empty_data: bool = False,
        record: bool = False,
        port: int = 0,
    ) -> None:
        self.pipelining = pipelining
        self.chunking = chunking
        self.delay = delay
        self.hold = hold
        self.refuse = {a.lower() for a in refuse or ()}
        self.refuse_code = refuse_code
        self.accept_empty_data = accept_empty_data
        self.record = record
        self.stats = SinkStats()
        self.sock = socket.create_server((HOST, port))
        self.port: int = self.sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SinkProtocol(self), sock=self.sock)
        async with server:
            await server.serve_forever()

    def __enter__(self) -> Sink:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            task = loop.create_task(self.serve())
            loop.call_soon(started.set)
            with contextlib.suppress(asyncio.CancelledError):
                loop.run_until_complete(task)
            loop.close()

        self._thread = threading.Thread(target=run, name="smtp-sink", daemon=True)
        self._thread.start()
        started.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            for task in asyncio.all_tasks(loop):
                loop.call_soon_threadsafe(task.cancel)
            thread.join(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every reply")
    parser.add_argument("--no-pipelining", action="store_true")
    parser.add_argument("--chunking", action="store_true", help="offer CHUNKING (RFC 3030 BDAT)")
    args = parser.parse_args()
    sink = Sink(pipelining=not args.no_pipelining, chunking=args.chunking, delay=args.delay, port=args.port)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(sink.serve())


if __name__ == "__main__":
    main()
