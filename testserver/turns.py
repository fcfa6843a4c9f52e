"""TurnCounter: a loopback TCP proxy that counts the round trips of every connection through it.

A test puts it between a client and a server (the fake relay, the benchmark sink) to assert how
many times the client had to wait for the server, the figure that pipelining (RFC 2920) and
CHUNKING (RFC 3030) exist to lower, without timing anything. It only forwards bytes, so it works
the same for plain SMTP, STARTTLS and implicit TLS.

A turn starts when the client connects, and again each time the client sends after the server's
bytes were delivered to it: the connect and the banner are turn 1, each EHLO, STARTTLS, TLS
handshake flight, AUTH step or pipelined group is one more, as on a real link. ``delay`` holds
the bytes of each direction that long (in order, without slowing the throughput), like a slow
link: then a client that sends without waiting never has server bytes delivered in between.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
READ_SIZE = 64 * 1024
START_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True)
class TurnSession:
    """A snapshot of one client connection: the client bytes that opened each turn and the
    server bytes delivered during it (turn 1, the connect, usually sends nothing)."""

    client: tuple[bytes, ...]
    server: tuple[bytes, ...]
    closed: bool

    @property
    def turns(self) -> int:
        """How many round trips the connection took so far."""
        return len(self.client)

    def turns_with(self, needle: bytes) -> list[int]:
        """The turns (numbered from 1) whose client bytes contain ``needle``: e.g. one message's
        end of data and the next one's MAIL FROM, ``b"\\r\\n.\\r\\nMAIL FROM"``."""
        return [number for number, sent in enumerate(self.client, 1) if needle in sent]


class _Live:
    """A session while it runs; touched by the loop thread under the counter's lock."""

    def __init__(self) -> None:
        self.client = [bytearray()]
        self.server = [bytearray()]
        self.server_spoke = False
        self.closed = False

    def snapshot(self) -> TurnSession:
        return TurnSession(tuple(map(bytes, self.client)), tuple(map(bytes, self.server)), self.closed)


class TurnCounter:
    """``with TurnCounter(relay.host, relay.port) as turns:`` connect to ``turns.port`` instead of
    the server, then read ``turns.sessions``. The upstream must be on the loopback interface.

    Over TLS 1.3 the server answers the client's Finished with session tickets the client does
    not wait for; on loopback they usually reach it before its next write, which then counts as
    a turn of its own. A ``delay`` of a few tens of milliseconds gives the count of a real link
    (TLS 1.2 has no such race)."""

    def __init__(self, upstream_host: str, upstream_port: int, *, delay: float = 0.0) -> None:
        if upstream_host != "localhost":
            try:
                loopback = ipaddress.ip_address(upstream_host).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                raise ValueError(f"the upstream must be a loopback address, got {upstream_host!r}")
        if isinstance(upstream_port, bool) or not isinstance(upstream_port, int) or not (
            0 < upstream_port <= 65535
        ):
            raise ValueError(f"upstream_port must be a port number, got {upstream_port!r}")
        if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
            raise ValueError(f"delay must be a number of seconds >= 0, got {delay!r}")
        self.upstream = (upstream_host, upstream_port)
        self.delay = float(delay)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sessions: list[_Live] = []
        # asyncio keeps only weak references to tasks, and a closed client connection drops its
        # own: without these, a session whose client has gone could be garbage-collected midway.
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None
        self._port: int | None = None

    def __repr__(self) -> str:
        where = f"port={self._port}" if self._port else "stopped"
        return f"TurnCounter({where}, upstream={self.upstream[0]}:{self.upstream[1]})"

    # lifecycle

    def __enter__(self) -> TurnCounter:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> TurnCounter:
        """Listen on 127.0.0.1 (a free port) in a background thread; a no-op when running."""
        if self._loop is not None:
            return self
        sock = socket.create_server((HOST, 0))
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="turn-counter", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        try:
            self._server = asyncio.run_coroutine_threadsafe(
                asyncio.start_server(self._proxy, sock=sock), loop
            ).result(START_TIMEOUT)
        except BaseException:
            sock.close()
            self.stop()
            raise
        self._port = sock.getsockname()[1]
        return self

    def stop(self) -> None:
        """Close the listener and every connection through it; safe to call twice."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None:
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(START_TIMEOUT)
            loop.call_soon_threadsafe(loop.stop)
            thread.join(START_TIMEOUT)
            loop.close()
        self._loop = self._thread = self._server = None
        self._port = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [task for task in asyncio.all_tasks() if task is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # what a test reads

    @property
    def host(self) -> str:
        return HOST

    @property
    def port(self) -> int:
        """Where clients connect instead of the upstream."""
        if self._port is None:
            raise RuntimeError("the turn counter is not running: call start() or use it in a with block")
        return self._port

    @property
    def sessions(self) -> list[TurnSession]:
        """A snapshot of every connection so far, in the order they were accepted."""
        with self._lock:
            return [live.snapshot() for live in self._sessions]

    def wait_closed(self, count: int = 1, timeout: float = 5.0) -> list[TurnSession]:
        """Block until at least ``count`` sessions are over (both directions done), so their
        records are final; AssertionError after ``timeout`` seconds."""
        with self._changed:
            done = self._changed.wait_for(
                lambda: sum(live.closed for live in self._sessions) >= count, timeout
            )
            if not done:
                raise AssertionError(
                    f"expected {count} closed session(s) within {timeout} s, have "
                    f"{sum(live.closed for live in self._sessions)} of {len(self._sessions)}"
                )
            return [live.snapshot() for live in self._sessions]

    def clear(self) -> None:
        """Forget the sessions recorded so far (live ones keep counting, unrecorded)."""
        with self._lock:
            self._sessions.clear()

    # the proxy (loop thread)

    async def _proxy(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        live = _Live()
        with self._lock:
            self._sessions.append(live)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        _nodelay(client_writer)
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            client_writer.close()
            self._close(live)
            return
        _nodelay(upstream_writer)
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer, live, from_client=True),
                self._pipe(upstream_reader, client_writer, live, from_client=False),
            )
        finally:
            for writer in (client_writer, upstream_writer):
                writer.close()
            self._close(live)

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        live: _Live,
        *,
        from_client: bool,
    ) -> None:
        """Forward one direction: count on arrival from the client, note delivery to it."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()
        sender = asyncio.create_task(self._send(queue, writer, live, from_client=from_client))
        try:
            while True:
                try:
                    data = await reader.read(READ_SIZE)
                except OSError:
                    data = b""
                if from_client and data:
                    with self._lock:
                        if live.server_spoke:
                            live.client.append(bytearray())
                            live.server.append(bytearray())
                            live.server_spoke = False
                        live.client[-1] += data
                queue.put_nowait((loop.time() + self.delay, data))
                if not data:
                    break
            await sender
        finally:
            sender.cancel()

    async def _send(
        self,
        queue: asyncio.Queue[tuple[float, bytes]],
        writer: asyncio.StreamWriter,
        live: _Live,
        *,
        from_client: bool,
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                if not data:
                    if writer.can_write_eof():
                        writer.write_eof()
                    else:
                        writer.close()
                    return
                writer.write(data)
                await writer.drain()
            except OSError:
                return  # that side is gone; its own reader ends the other direction
            if not from_client:
                with self._lock:
                    live.server[-1] += data
                    live.server_spoke = True

    def _close(self, live: _Live) -> None:
        with self._changed:
            live.closed = True
            self._changed.notify_all()


def _nodelay(writer: asyncio.StreamWriter) -> None:
    # Without it, Nagle and delayed ACKs hold back small writes and blur the turns' timing.
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
