"""Acceptance: an app under uvicorn on 127.0.0.1 sends through the fake relay; the relay bounces an
address and posts the event over real HTTP to the app's webhook; the app stores it; the next message
to that address is not sent."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from acumbamail_smtp import Event, EventType, Message, RecipientsRefused, SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import MailerDep, acumbamail_lifespan, webhook_router
from acumbamail_smtp.testserver import FakeRelay
from fastapi import FastAPI
from pydantic import BaseModel

from tests.fastapi.helpers import PASSWORD, USERNAME, free_socket, serve

TOKEN = "made-up-e2e-token-42"


class Signup(BaseModel):
    email: str


def shop_app(relay: FakeRelay, store_path: Path, bounced: list[str]) -> FastAPI:
    """A small app as a user would write it: settings in the environment, one send route, the webhook."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with acumbamail_lifespan(app):
            yield

    app = FastAPI(lifespan=lifespan)
    events = webhook_router()
    app.include_router(events, prefix="/acumbamail")

    @events.event_handler(EventType.HARD_BOUNCE)
    def on_bounce(event: Event) -> None:
        bounced.append(event.recipient)

    @app.post("/signup")
    async def signup(body: Signup, mailer: MailerDep) -> dict[str, Any]:
        message = Message(to=body.email, subject="Confirm your account", text="Click the link",
                          category="SIGNUP")
        try:
            result = await mailer.send(message)
        except RecipientsRefused as exc:
            result = exc.result
        return {"status": result.status, "queue_id": result.queue_id, "suppressed": result.suppressed,
                "refused": sorted(result.refused)}

    return app


@pytest.mark.parametrize("bounce_at", ["rcpt", "async"])
def test_a_hard_bounce_suppresses_the_next_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   bounce_at: str) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    store_path = tmp_path / "events.sqlite3"
    webhook_url = f"http://127.0.0.1:{port}/acumbamail/webhook/{TOKEN}"
    with FakeRelay(username=USERNAME, password=PASSWORD, webhook_url=webhook_url) as relay:
        for name, value in {"HOST": relay.host, "PORT": str(relay.port), "USERNAME": USERNAME,
                            "PASSWORD": PASSWORD, "CA_FILE": relay.ca_file, "STORE": str(store_path),
                            "DEFAULT_FROM": "Shop <shop@example.com>", "WEBHOOK_TOKEN": TOKEN}.items():
            monkeypatch.setenv(f"ACUMBAMAIL_{name}", value)
        relay.hard_bounce("gone@example.org", at=bounce_at)  # type: ignore[arg-type]
        bounced: list[str] = []
        with serve(shop_app(relay, store_path, bounced), sock) as url, httpx.Client(base_url=url) as client:
            first = client.post("/signup", json={"email": "gone@example.org"}).json()
            if bounce_at == "rcpt":  # refused at RCPT: the relay said no at once
                assert first["status"] == "refused" and first["refused"] == ["gone@example.org"]
            else:  # accepted, then bounced later: only the webhook tells
                assert first["status"] == "sent" and first["queue_id"]
            ok = client.post("/signup", json={"email": "ana@example.org"}).json()
            assert ok["status"] == "sent"

            relay.flush_webhooks()  # the relay's POSTs reached the app and got a 2xx

            second = client.post("/signup", json={"email": "Gone@Example.org"}).json()
            assert second == {"status": "refused", "queue_id": None, "suppressed": ["Gone@Example.org"],
                              "refused": []}
            assert bounced == ["gone@example.org"]
        assert all(status == 200 for status, _ in relay.webhook_deliveries)
        received = relay.messages
        # the suppressed message never reached the relay
        assert all("gone@example.org" not in [r.lower() for r in m.rcpt_tos] for m in received[1:])
        assert sum(m.rcpt_tos == ["ana@example.org"] for m in received) == 1
    with SQLiteEventStore(store_path) as store:
        assert store.suppressed(["gone@example.org"]) == {"gone@example.org"}
        [bounce] = store.events(type="hard_bounce")
        if bounce_at == "async":  # joined to the accepted send it reports on (by queue id)
            assert bounce.category == "SIGNUP" and bounce.message_key == first["queue_id"]
        assert {e.type for e in store.events(recipient="ana@example.org")} == {EventType.DELIVERED}
