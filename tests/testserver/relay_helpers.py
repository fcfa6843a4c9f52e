"""Helpers for the fake relay's tests: building messages, sending them with smtplib, and a
webhook receiver on 127.0.0.1 that answers scripted statuses."""

from __future__ import annotations

import base64
import contextlib
import json
import smtplib
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def build_message(
    subject: str = "Hello",
    *,
    to: str = "rcpt@example.com",
    sender: str = "sender@example.com",
    category: str | None = None,
    body: str = "Hello there",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}", f"Subject: {subject}", "Message-ID: <t@example.com>"]
    if category is not None:
        lines.append(f"ACUMBAMAIL-SMTPAPI: {category}")
    return "\r\n".join([*lines, "", body, ""]).encode()


def send(
    client: smtplib.SMTP, data: bytes, rcpts: list[str], sender: str = "sender@example.com"
) -> tuple[int, bytes]:
    """MAIL, RCPT each, DATA; returns the reply to end of DATA (asserts MAIL and some RCPT passed)."""
    code, reply = client.mail(sender)
    assert code == 250, (code, reply)
    accepted = [r for r in rcpts if client.rcpt(r)[0] == 250]
    assert accepted, "no recipient accepted"
    return client.data(data)


def queue_id_of(reply: bytes) -> str:
    """The id in ``2.0.0 Ok: queued as <ID>``."""
    return reply.decode().rsplit(" ", 1)[1]


class Receiver:
    """A webhook receiver on 127.0.0.1 that records every request and answers scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int | str] = []  # one per request, then 200; "drop" closes without reply
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if status == "drop":
                    self.close_connection = True
                    return
                self.send_response(int(status))
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/hooks/acumbamail?token=s3cret"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def events(self) -> list[dict[str, Any]]:
        """Every event of every batch received (retried batches appear again), in order."""
        return [event for batch in self.bodies() for event in batch.values()]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


class RawSMTP:
    """A byte-level SMTP client on 127.0.0.1: writes exactly what a test gives it (pipelined
    groups, BDAT chunks, whole messages in one write) and reads replies one at a time."""

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext | None = None) -> None:
        sock = socket.create_connection((host, port), timeout=10)
        self.sock: socket.socket = context.wrap_socket(sock, server_hostname=host) if context else sock
        self.file = self.sock.makefile("rb")
        self.banner = self.reply()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def reply(self) -> tuple[int, bytes]:
        """One (possibly multi-line) reply as ``(code, text)``, the lines' texts joined by LF."""
        lines = []
        while True:
            line = self.file.readline()
            if not line:
                raise ConnectionError(f"the server closed the connection; read so far: {lines!r}")
            lines.append(line)
            if line[3:4] != b"-":
                break
        return int(lines[0][:3]), b"\n".join(line[4:].rstrip(b"\r\n") for line in lines)

    def replies(self, n: int) -> list[tuple[int, bytes]]:
        return [self.reply() for _ in range(n)]

    def command(self, line: bytes) -> tuple[int, bytes]:
        self.send(line + b"\r\n")
        return self.reply()

    def login(self, username: str, password: str) -> None:
        """EHLO, then AUTH PLAIN (the relay must allow it on this connection)."""
        code, _ = self.command(b"EHLO client.example.com")
        assert code == 250
        token = base64.b64encode(f"\0{username}\0{password}".encode())
        code, text = self.command(b"AUTH PLAIN " + token)
        assert code == 235, (code, text)

    def at_eof(self) -> bool:
        """Whether the server closed the connection with nothing more to read."""
        try:
            return self.file.read() == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.file.close()
            self.sock.close()


def bdat(chunk: bytes, *, last: bool = False) -> bytes:
    """A BDAT command with its chunk, ready to write."""
    return b"BDAT %d%s\r\n" % (len(chunk), b" LAST" if last else b"") + chunk


def envelope_group(rcpts: list[str], sender: str = "sender@example.com") -> bytes:
    """MAIL FROM and the RCPT TOs as one pipelined write."""
    lines = [f"MAIL FROM:<{sender}>", *(f"RCPT TO:<{r}>" for r in rcpts)]
    return "".join(line + "\r\n" for line in lines).encode()
