"""The fake relay's HTTP side: a JSON API over the received messages and events, and a small
self-contained web page to read them (what developers use Mailpit for). No JavaScript, no CDN,
every value escaped; message HTML is shown only inside a sandboxed iframe."""

from __future__ import annotations

import html
import json
import logging
import re
from email.message import EmailMessage
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .records import ReceivedMessage


class RelayView(Protocol):
    """What the web page and API read of :class:`~acumbamail_smtp.testserver.FakeRelay` (declared
    here, so this module does not import the relay that imports it)."""

    @property
    def messages(self) -> list[ReceivedMessage]: ...

    @property
    def events(self) -> list[dict[str, Any]]: ...

    def get_message(self, queue_id: str) -> ReceivedMessage | None: ...

    def clear(self) -> None: ...

log = logging.getLogger(__name__)

PAGE_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; "
    "form-action 'self'; base-uri 'none'"
)
# Served on its own, a message's HTML runs in a sandbox: no scripts, no forms, no remote loads.
MESSAGE_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_MESSAGE_PATH = re.compile(r"^/(api/)?messages/([A-Za-z0-9]+)(/raw|/html)?$")

STYLE = """
body{font-family:system-ui,sans-serif;margin:1rem;color:#222}
h1{font-size:1.4rem;overflow-wrap:anywhere}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:.3rem .6rem;
border-bottom:1px solid #ddd;vertical-align:top;overflow-wrap:break-word}
th{background:#f4f4f4;white-space:nowrap;overflow-wrap:normal}
pre{background:#f7f7f7;padding:.8rem;overflow:auto;white-space:pre-wrap;overflow-wrap:anywhere}
iframe{width:100%;height:28rem;border:1px solid #ccc;box-sizing:border-box}.muted{color:#777}
code{background:#f4f4f4;padding:0 .2rem;overflow-wrap:anywhere}
@media (max-width:640px){
td{overflow-wrap:anywhere}
table.list thead{display:none}table.list tr{display:block;border-bottom:1px solid #ddd;padding:.4rem 0}
table.list td{display:block;border:0;padding:.1rem .3rem}
table.list td::before{content:attr(data-label) ": ";color:#777}}
"""


def make_http_server(relay: RelayView, host: str, port: int) -> ThreadingHTTPServer:
    """A ThreadingHTTPServer on ``host:port`` (0: a free port) serving ``relay``."""

    class Handler(_Handler):
        pass

    Handler.relay = relay
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


class _Handler(BaseHTTPRequestHandler):
    relay: RelayView
    server_version = "acumbamail-smtp-fake-relay"

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s - " + format, self.address_string(), *args)

    # routing

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            self._page(HTTPStatus.OK, "Fake Acumbamail relay", _index(self.relay.messages))
            return
        if path == "/api/messages":
            self._json([m.summary() for m in self.relay.messages])
            return
        if path == "/api/events":
            self._json(self.relay.events)
            return
        match = _MESSAGE_PATH.match(path)
        message = self.relay.get_message(match.group(2)) if match else None
        if match is None or message is None:
            self._not_found(path)
            return
        api, suffix = match.group(1), match.group(3)
        if api and suffix is None:
            self._json(message.details())
        elif suffix == "/raw":
            self._send(HTTPStatus.OK, "message/rfc822", message.data)
        elif suffix == "/html" and not api:
            body = message.html
            if body is None:
                self._not_found(path)
            else:
                self._send(HTTPStatus.OK, "text/html; charset=utf-8", body.encode(), MESSAGE_CSP)
        elif not api and suffix is None:
            self._page(HTTPStatus.OK, message.subject or "(no subject)", _detail(message))
        else:
            self._not_found(path)

    def do_DELETE(self) -> None:
        if self.path.split("?", 1)[0] == "/api/messages":
            count = len(self.relay.messages)
            self.relay.clear()
            self._json({"deleted": count})
        else:
            self._not_found(self.path)

    def do_POST(self) -> None:
        # The web page's "Delete all" button (a plain form, no JavaScript).
        if self.path.split("?", 1)[0] == "/clear":
            self.relay.clear()
            self.send_response(HTTPStatus.SEE_OTHER)
            self.send_header("Location", "/")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._not_found(self.path)

    # responses

    def _send(
        self, status: HTTPStatus, content_type: str, body: bytes, csp: str | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if csp:
            self.send_header("Content-Security-Policy", csp)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, value: Any, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, "application/json", json.dumps(value, ensure_ascii=False).encode())

    def _page(self, status: HTTPStatus, title: str, content: str) -> None:
        document = (
            "<!doctype html><html lang=en><head><meta charset=utf-8>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
            f"<body>{content}</body></html>"
        )
        self._send(status, "text/html; charset=utf-8", document.encode(), PAGE_CSP)

    def _not_found(self, path: str) -> None:
        if path.startswith("/api/"):
            self._json({"error": "not found", "path": path}, HTTPStatus.NOT_FOUND)
        else:
            self._page(
                HTTPStatus.NOT_FOUND,
                "Not found",
                f"<h1>Not found</h1><p><code>{html.escape(path)}</code></p>"
                "<p><a href='/'>All messages</a></p>",
            )


def _index(messages: list[ReceivedMessage]) -> str:
    rows = "".join(
        "<tr>"
        f"<td data-label=Received>{html.escape(m.received_at.strftime('%Y-%m-%d %H:%M:%S'))}</td>"
        f"<td data-label=From>{html.escape(m.mail_from)}</td>"
        f"<td data-label=To>{html.escape(', '.join(m.rcpt_tos))}</td>"
        f"<td data-label=Subject><a href='/messages/{html.escape(m.id)}'>"
        f"{html.escape(m.subject or '(no subject)')}</a></td>"
        f"<td data-label=Category>{html.escape(m.category or '')}</td>"
        "</tr>"
        for m in reversed(messages)
    )
    if not rows:
        rows = "<tr><td colspan=5 class=muted>No messages yet.</td></tr>"
    return (
        f"<h1>Fake Acumbamail relay</h1><p class=muted>{len(messages)} message(s), newest first. "
        "JSON: <a href='/api/messages'>/api/messages</a>, <a href='/api/events'>/api/events</a></p>"
        "<form method=post action='/clear'><button>Delete all</button></form>"
        "<div class=scroll><table class=list><thead><tr><th>Received (UTC)</th><th>From</th><th>To</th>"
        f"<th>Subject</th><th>Category</th></tr></thead><tbody>{rows}</tbody></table></div>"
    )


def _detail(m: ReceivedMessage) -> str:
    quoted_id = html.escape(m.id)
    facts = [
        ("Queue id", m.id),
        ("Received (UTC)", m.received_at.isoformat()),
        ("Envelope from", m.mail_from),
        ("Envelope to", ", ".join(m.rcpt_tos)),
        ("Category", m.category or ""),
        ("Authenticated as", m.authenticated_as or ""),
        ("TLS", "yes" if m.tls else "no"),
        ("SMTPUTF8", "yes" if m.smtputf8 else "no"),
        ("Size", f"{len(m.data)} bytes"),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    headers = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in m.headers
    )
    parts = [
        f"<p><a href='/'>&larr; All messages</a></p><h1>{html.escape(m.subject or '(no subject)')}</h1>",
        f"<div class=scroll><table>{rows}</table></div>",
    ]
    if m.html is not None:
        parts.append(
            f"<h2>HTML <small><a href='/messages/{quoted_id}/html'>open alone</a></small></h2>"
            f"<iframe sandbox title='HTML body' srcdoc=\"{html.escape(m.html, quote=True)}\"></iframe>"
        )
    if m.text is not None:
        parts.append(f"<h2>Text</h2><pre>{html.escape(m.text)}</pre>")
    attachments = _attachments(m.message)
    if attachments:
        items = "".join(
            f"<li>{html.escape(name)} <span class=muted>({html.escape(kind)}, {size} bytes)</span></li>"
            for name, kind, size in attachments
        )
        parts.append(f"<h2>Attachments</h2><ul>{items}</ul>")
    parts.append(f"<h2>Headers</h2><div class=scroll><table>{headers}</table></div>")
    parts.append(
        f"<h2>Source <small><a href='/api/messages/{quoted_id}/raw'>download</a></small></h2>"
        f"<pre>{html.escape(m.data.decode('utf-8', errors='replace'))}</pre>"
    )
    return "".join(parts)


def _attachments(message: EmailMessage) -> list[tuple[str, str, int]]:
    found = []
    for part in message.iter_attachments():
        payload = part.get_payload(decode=True)
        size = len(payload) if isinstance(payload, bytes) else 0
        found.append((part.get_filename() or "(unnamed)", part.get_content_type(), size))
    return found
