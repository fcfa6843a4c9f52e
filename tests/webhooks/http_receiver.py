"""A real HTTP endpoint for the tests: a ThreadingHTTPServer on 127.0.0.1 whose handler is the
whole "adapter" (a few lines turning the request into ``WebhookReceiver.handle`` and back)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import parse_qsl, urlsplit

from acumbamail_smtp import WebhookReceiver, WebhookResponse


class WebhookHTTPServer:
    """Serves ``POST /webhooks/<token>`` (or ``/webhooks?token=``) with ``receiver``."""

    def __init__(self, receiver: WebhookReceiver) -> None:
        self.receiver = receiver
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                parts = urlsplit(self.path)
                segments = parts.path.strip("/").split("/")
                if segments[0] != "webhooks" or len(segments) > 2:
                    self.send_error(404)
                    return
                early = owner.receiver.check_length(self.headers.get("Content-Length"))
                if early is not None:
                    self.close_connection = True
                    self.reply(early)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.reply(owner.receiver.handle(
                    body, content_type=self.headers.get("Content-Type", ""), headers=dict(self.headers.items()),
                    query=dict(parse_qsl(parts.query)), path_token=segments[1] if len(segments) == 2 else None))

            def do_GET(self) -> None:
                self.send_error(405)

            def reply(self, response: WebhookResponse) -> None:
                content = response.content()
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(content)))
                for name, value in response.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: object) -> None:
                pass  # the receiver logs what matters

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, token: str | None = None) -> str:
        return f"http://127.0.0.1:{self.port}/webhooks" + (f"/{token}" if token else "")

    def __enter__(self) -> WebhookHTTPServer:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
