"""A standalone webhook endpoint on the standard library's HTTP server.

For applications without Django, Flask or FastAPI (a worker, a sidecar next to any stack), and for
the demo. It is the same thin translation every adapter does: the request goes into
:meth:`WebhookReceiver.handle` and the :class:`WebhookResponse` comes back. Put it behind a TLS
reverse proxy when it faces the internet.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from .receiver import WebhookReceiver, WebhookResponse

#: Seconds a connection may stay silent (request line, headers or body) before it is dropped.
DEFAULT_TIMEOUT = 30.0


class WebhookServer:
    """Serves ``POST <prefix>`` and ``POST <prefix>/<token>`` with ``receiver``; other paths 404.

    A client silent for ``timeout`` seconds is disconnected, so a slow or stalled sender cannot
    hold a thread for ever."""

    def __init__(self, receiver: WebhookReceiver, *, host: str = "127.0.0.1", port: int = 0,
                 prefix: str = "/webhooks", timeout: float = DEFAULT_TIMEOUT) -> None:
        self.receiver = receiver
        self.prefix = "/" + prefix.strip("/")
        self.timeout = timeout
        self.server = ThreadingHTTPServer((host, port), _handler_for(self))
        self.server.daemon_threads = True
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
                token = path[len(owner.prefix) + 1:]
            else:
                self.send_error(404)
                return
            early = owner.receiver.check_length(self.headers.get("Content-Length"))
            if early is not None:
                self.close_connection = True
                self._reply(early)
                return
            # check_length accepted it: absent, or an integer in 0..max_body
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = self.rfile.read(min(length, owner.receiver.max_body + 1))
            except TimeoutError:
                self.close_connection = True
                return  # the client went silent mid-body: drop it, nothing was stored
            if len(body) < length:
                self.close_connection = True
                self._reply(_short_body())
                return
            self._reply(owner.receiver.handle(
                body, content_type=self.headers.get("Content-Type", ""),
                headers=dict(self.headers.items()), query=dict(parse_qsl(parts.query)), path_token=token))

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


def _short_body() -> WebhookResponse:
    return WebhookResponse(400, {"status": "error", "error": "body shorter than its Content-Length"})
