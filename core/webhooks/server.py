"""A standalone webhook endpoint on the standard library's HTTP server.

For applications without Django, Flask or FastAPI (a worker, a sidecar next to any stack), and for
the demo. It is the same thin translation every adapter does: the request goes into
:meth:`WebhookReceiver.handle` and the :class:`WebhookResponse` comes back. Put it behind a TLS
reverse proxy when it faces the internet.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from types import TracebackType
from urllib.parse import parse_qsl, unquote, urlsplit

from .receiver import WebhookReceiver, WebhookResponse

#: Seconds a connection may stay silent (request line, headers or body) before it is dropped.
DEFAULT_TIMEOUT = 30.0


class _Server(ThreadingHTTPServer):
    """socketserver listens with a backlog of 5, so a burst of posts was reset by the kernel; the
    kernel caps this at its ``somaxconn``."""

    request_queue_size = 1024
    daemon_threads = True


class WebhookServer:
    """Serves ``POST <prefix>`` and ``POST <prefix>/<token>`` with ``receiver``; other paths 404.

    A client silent for ``timeout`` seconds is disconnected, so a slow or stalled sender cannot
    hold a thread for ever."""

    def __init__(self, receiver: WebhookReceiver, *, host: str = "127.0.0.1", port: int = 0,
                 prefix: str = "/webhooks", timeout: float = DEFAULT_TIMEOUT) -> None:
        self.receiver = receiver
        self.prefix = "/" + prefix.strip("/")
        self.timeout = timeout
        self.server = _Server((host, port), _handler_for(self))
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, token: str | None = None) -> str:
        """The callback URL to give Acumbamail (with the token as the last path segment)."""
        host = str(self.server.server_address[0])
        return f"http://{host}:{self.port}{self.prefix}" + (f"/{token}" if token else "")

    def start(self) -> WebhookServer:
        """Serve in a background thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True,
                                            name="acumbamail-webhook-server")
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until :meth:`stop` or KeyboardInterrupt."""
        self.server.serve_forever(0.2)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def __enter__(self) -> WebhookServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _handler_for(owner: WebhookServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "acumbamail-smtp"
        timeout = owner.timeout  # socket timeout, set by StreamRequestHandler.setup

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            path = parts.path.rstrip("/")
            if path == owner.prefix:
                token = None
            elif path.startswith(owner.prefix + "/") and "/" not in path[len(owner.prefix) + 1:]:
                # percent-decoded, as every framework decodes a path parameter
                token = unquote(path[len(owner.prefix) + 1:])
            else:
                self.send_error(404)
                return
            body = self._body()
            if isinstance(body, WebhookResponse):
                self.close_connection = True
                self._reply(body)
                return
            if body is None:
                self.close_connection = True
                return  # the client went silent mid-body: drop it, nothing was stored
            if len(body) > owner.receiver.max_body:
                self.close_connection = True  # the rest of a chunked body is never read
            self._reply(owner.receiver.handle(
                body, content_type=self.headers.get("Content-Type", ""),
                headers=dict(self.headers.items()), query=dict(parse_qsl(parts.query)), path_token=token))

        def _body(self) -> bytes | WebhookResponse | None:
            """The request body (``Content-Length`` or chunked, at most ``max_body + 1`` bytes so
            the receiver answers 413), an early error answer, or None when the client stalled."""
            encoding = self.headers.get("Transfer-Encoding")
            length = self.headers.get("Content-Length")
            if encoding is not None:
                if encoding.strip().lower() != "chunked":
                    return _refused(501, "only the chunked transfer-coding is supported")
                if length is not None:  # RFC 9112 6.1: either may be a smuggling attempt
                    return _refused(400, "both Transfer-Encoding and Content-Length")
                try:
                    return _read_chunked(self.rfile, owner.receiver.max_body + 1)
                except TimeoutError:
                    return None
            early = owner.receiver.check_length(length)
            if early is not None:
                return early
            # check_length accepted it: absent, or an integer in 0..max_body
            size = int(length or 0)
            try:
                body = self.rfile.read(min(size, owner.receiver.max_body + 1))
            except TimeoutError:
                return None
            return body if len(body) == size else _refused(400, "body shorter than its Content-Length")

        def do_GET(self) -> None:
            self.send_error(405)

        def _reply(self, response: WebhookResponse) -> None:
            content = response.content()
            self.send_response(response.status)
            self.send_header("Content-Type", response.content_type)
            self.send_header("Content-Length", str(len(content)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the receiver logs what matters, and the request line would carry the token

    return Handler


def _refused(status: int, problem: str) -> WebhookResponse:
    return WebhookResponse(status, {"status": "error", "error": problem})


def _read_chunked(stream: BufferedIOBase, limit: int) -> bytes | WebhookResponse:
    """A chunked body (RFC 9112 7.1), read up to ``limit`` bytes (the receiver answers 413 past
    ``max_body``); a 400 when the framing is broken. Extensions and trailers are ignored."""
    body = bytearray()
    while True:
        line = stream.readline(1026)
        size_text = line.split(b";", 1)[0].strip()
        if not line.endswith(b"\n") or not size_text or len(size_text) > 16 or not all(
                c in b"0123456789abcdefABCDEF" for c in size_text):
            return _refused(400, "malformed chunked body")
        size = int(size_text, 16)
        if size == 0:
            break
        wanted = min(size, limit - len(body))
        chunk = stream.read(wanted)
        body += chunk
        if len(chunk) < wanted:
            return _refused(400, "chunked body ends inside a chunk")
        if len(body) >= limit:
            return bytes(body)  # over max_body: the receiver answers 413; the connection closes
        if stream.read(2) not in (b"\r\n", b"\n"):
            return _refused(400, "malformed chunked body")
    for _ in range(100):  # the trailer section, up to its empty line
        line = stream.readline(8194)
        if line in (b"\r\n", b"\n", b""):
            return bytes(body)
    return _refused(400, "too many chunked trailer fields")
