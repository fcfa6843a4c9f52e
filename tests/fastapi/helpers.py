"""Shared helpers of the FastAPI tests: a running app (lifespan + httpx ASGI client), a live
uvicorn server on 127.0.0.1, and Acumbamail-shaped webhook bodies."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

USERNAME = "sender@example.com"
PASSWORD = "made-up-Secret-42"  # not a real credential: the fake relay checks it
SENDER = "Shop <shop@example.com>"


@contextlib.asynccontextmanager
async def running(app: FastAPI, *, lifespan: bool = True) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan entered, and an httpx client calling it in process."""
    async with contextlib.AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(app.router.lifespan_context(app))
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        yield await stack.enter_async_context(client)


def free_socket() -> socket.socket:
    """A listening-ready TCP socket on 127.0.0.1 with a port chosen by the OS."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextlib.contextmanager
def serve(app: FastAPI, sock: socket.socket) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``sock`` in a thread (lifespan on); yields the base URL."""
    config = uvicorn.Config(app, lifespan="on", log_level="warning", http="h11", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(20)
        sock.close()


def event(name: str, email: str, key: str = "Q1", timestamp: float | None = None, **extra: Any) -> dict[str, Any]:
    """One event as Acumbamail posts it."""
    return {"email_key": key, "timestamp": timestamp if timestamp is not None else time.time(),
            "email": email, "event": name, "campaign_id": None, "list_id": None,
            "subscriber_fields": {}, **extra}


def batch(*events: dict[str, Any]) -> bytes:
    """A webhook body: a JSON object keyed "1", "2", ..."""
    return json.dumps({str(n): e for n, e in enumerate(events, 1)}).encode()
