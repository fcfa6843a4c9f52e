"""A stand-in for Acumbamail's HTTP API (configSMTPWebhook, getSMTPWebhook) on 127.0.0.1 that
checks every request the way the real one would: POST, form-urlencoded, auth_token, response_type."""

from __future__ import annotations

import contextlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs

GOOD_TOKEN = "api-token-5b0e2f71c9"
FLAGS = ("delivered", "hard_bounce", "soft_bounce", "complain", "opens", "click", "active")


class FakeAcumbamailAPI:
    """``mode`` scripts the next answers: "ok", "rate_limited", "slow", "garbage", "error"."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.problems: list[str] = []
        self.mode = "ok"
        self.release = threading.Event()
        self.webhook: dict[str, Any] | None = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                fields = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
                function = self.path.strip("/").split("/")[-1]
                owner.requests.append((function, fields))
                if self.headers.get("Content-Type") != "application/x-www-form-urlencoded":
                    owner.problems.append(f"content type {self.headers.get('Content-Type')}")
                if not self.path.startswith("/api/1/") or not self.path.endswith("/"):
                    owner.problems.append(f"path {self.path}")
                if fields.get("response_type") != "json":
                    owner.problems.append("response_type missing")
                status, answer = owner.answer(function, fields)
                if owner.mode == "slow":
                    owner.release.wait(10)  # until the test is over: the client times out first
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)  # fails when the client gave up (the timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/1/"

    def answer(self, function: str, fields: dict[str, str]) -> tuple[int, Any]:
        if fields.get("auth_token") != GOOD_TOKEN:
            return 401, {"error": f"invalid token {fields.get('auth_token')}"}
        if self.mode == "rate_limited":
            return 429, {"error": "Too many requests"}
        if self.mode == "garbage":
            return 200, b"<html>maintenance</html>"
        if self.mode == "error":
            return 500, {"error": f"internal error for {fields.get('auth_token')}"}
        if function == "configSMTPWebhook":
            if not fields.get("callback_url"):
                return 400, {"error": "callback_url is required"}
            for flag in FLAGS:
                if fields.get(flag) not in ("0", "1"):
                    self.problems.append(f"flag {flag}={fields.get(flag)!r}")
            self.webhook = {"id": 41, "url": fields["callback_url"], "active": int(fields["active"]),
                            "delivered": int(fields["delivered"]), "hard_bounces": int(fields["hard_bounce"]),
                            "soft_bounces": int(fields["soft_bounce"]), "complaints": int(fields["complain"]),
                            "opens": int(fields["opens"]), "clicks": int(fields["click"])}
            return 200, {"id": 41}
        if function == "getSMTPWebhook":
            return 200, {"info": self.webhook or {}}
        return 404, {"error": f"no function {function}"}

    def __enter__(self) -> FakeAcumbamailAPI:
        self.thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)
