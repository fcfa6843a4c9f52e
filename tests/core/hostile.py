"""A hostile SMTP relay on 127.0.0.1 for the hardening tests: plain sockets, written apart from the
library and from the fake relay. It speaks just enough SMTP and misbehaves at one chosen command
(or at the banner) with one of the behaviours below; every behaviour gives up after ``CAP`` seconds
so that a client without limits ends with "the relay closed the connection", not a hung test."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from acumbamail_smtp import RelayConfig

CAP = 8.0
EHLO = b"250-hostile.test\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
Behaviour = Callable[[socket.socket, bytes], None]


def _until_cap(conn: socket.socket, chunks: Iterator[bytes], pause: float) -> None:
    """Send ``chunks`` every ``pause`` seconds until the client hangs up or CAP passes."""
    end = time.monotonic() + CAP
    try:
        while time.monotonic() < end:
            conn.sendall(next(chunks))
            if pause:
                time.sleep(pause)
    except OSError:
        pass


def endless_lines(conn: socket.socket, line: bytes) -> None:
    """``250-x`` lines as fast as the client reads them, never a last line."""
    block = b"250-x\r\n" * 512
    _until_cap(conn, iter(lambda: block, None), 0)


def dripping_lines(conn: socket.socket, line: bytes) -> None:
    """One ``250-`` line every 50 ms: each read succeeds, the reply never ends."""
    _until_cap(conn, iter(lambda: b"250-still thinking\r\n", None), 0.05)


def dripping_bytes(conn: socket.socket, line: bytes) -> None:
    """One byte of a reply line every 50 ms."""
    _until_cap(conn, iter(lambda: b"2", None), 0.05)


def oversized_line(conn: socket.socket, line: bytes) -> None:
    """A reply line that never ends: ``250 xxxx...``."""
    conn.sendall(b"250 ")
    _until_cap(conn, iter(lambda: b"x" * 4096, None), 0)


def echo_auth(conn: socket.socket, line: bytes) -> None:
    """Refuse AUTH, quoting what the client sent, raw and decoded."""
    parts = line.split()
    decoded = base64.b64decode(parts[2]).replace(b"\0", b" ") if len(parts) > 2 else b""
    conn.sendall(b"535-5.7.8 rejected: " + line.strip() + b"\r\n535 5.7.8 decoded: " + decoded + b"\r\n")


def _serve(conn: socket.socket, stage: bytes, behaviour: Behaviour) -> None:
    with conn:
        if stage == b"BANNER":
            behaviour(conn, b"")
            return
        conn.sendall(b"220 hostile.test ESMTP\r\n")
        reader = conn.makefile("rb")
        while line := reader.readline(4096):
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == stage:
                behaviour(conn, line)
                return
            if verb in (b"EHLO", b"HELO"):
                conn.sendall(EHLO)
            elif verb == b"DATA":
                conn.sendall(b"354 go ahead\r\n")
                while reader.readline(65536) not in (b".\r\n", b""):
                    pass
                conn.sendall(b"250 2.0.0 Ok: queued as HOSTILE1\r\n")
            elif verb == b"QUIT":
                conn.sendall(b"221 bye\r\n")
                return
            elif verb == b"AUTH":
                conn.sendall(b"235 2.7.0 ok\r\n")
            else:
                conn.sendall(b"250 ok\r\n")


@contextmanager
def hostile_relay(stage: str, behaviour: Behaviour) -> Iterator[RelayConfig]:
    """A relay that misbehaves at ``stage`` (a command verb, or ``"BANNER"``); yields a plain-text
    configuration for it (credentials allowed in clear: it is on 127.0.0.1)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            worker = threading.Thread(target=_serve, args=(conn, stage.encode(), behaviour), daemon=True)
            worker.start()
            workers.append(worker)

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield RelayConfig(host="127.0.0.1", port=listener.getsockname()[1], security="none", max_tries=1,
                          timeout=5.0)
    finally:
        stop.set()
        acceptor.join()
        listener.close()
        for worker in workers:
            worker.join(CAP + 2)
