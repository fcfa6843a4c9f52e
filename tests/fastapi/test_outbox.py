"""``await mailer.enqueue(...)`` stores; the lifespan's worker (drain_outbox=True) sends from the
app's event loop through the fake relay."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from acumbamail_smtp import Message, RelayConfig
from acumbamail_smtp.integrations.fastapi import MailerDep, acumbamail_lifespan
from acumbamail_smtp.outbox import outbox_for
from acumbamail_smtp.store.open import open_store
from acumbamail_smtp.testserver import FakeRelay
from fastapi import FastAPI
from fastapi.testclient import TestClient


def make_app(config: RelayConfig, store_path: Path, drain: bool) -> FastAPI:
    store = open_store(store_path)

    async def lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
        async with acumbamail_lifespan(app, config=config, store=store, drain_outbox=drain):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/signup")
    async def signup(mailer: MailerDep) -> dict[str, str]:
        [message_id] = await mailer.enqueue(Message(to="ana@example.com", subject="Welcome", text="Hi"))
        return {"message_id": message_id}

    return app


def test_enqueue_stores_and_the_lifespan_worker_sends(config: RelayConfig, relay: FakeRelay,
                                                      tmp_path: Path) -> None:
    app = make_app(config, tmp_path / "s.sqlite3", drain=True)
    with TestClient(app) as client:
        message_id = client.post("/signup").json()["message_id"]
        received = relay.wait_for(1, timeout=10)
    assert str(received[0].message["Message-ID"]) == message_id
    assert outbox_for(tmp_path / "s.sqlite3").stats().sent == 1


def test_without_the_worker_the_message_waits_in_the_outbox(config: RelayConfig, relay: FakeRelay,
                                                            tmp_path: Path) -> None:
    app = make_app(config, tmp_path / "s.sqlite3", drain=False)
    with TestClient(app) as client:
        client.post("/signup")
        time.sleep(0.5)
    assert relay.messages == []
    outbox = outbox_for(tmp_path / "s.sqlite3")
    assert outbox.stats().queued == 1


async def test_enqueue_rejects_an_invalid_message_before_storing(config: RelayConfig, tmp_path: Path) -> None:
    from acumbamail_smtp.errors import InvalidMessage
    from acumbamail_smtp.integrations.fastapi import FastAPIMailer

    mailer = FastAPIMailer(config, store=open_store(tmp_path / "s.sqlite3"))
    try:
        await mailer.enqueue(Message(to="not an address", subject="x", text="y"))
    except InvalidMessage:
        pass
    else:
        raise AssertionError("an invalid message was stored")
    assert mailer.outbox_queue.stats().queued == 0
    await asyncio.sleep(0)
