"""The shared mailer: lifespan, the get_mailer dependency (MailerDep), pooling, overrides, templates,
the event store and ACUMBAMAIL_SUPPRESS_SEND, with httpx's ASGI client and the fake relay."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import pytest
from acumbamail_smtp import ConfigError, Message, RecipientsRefused, RelayConfig, SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import (
    FastAPIMailer,
    MailerDep,
    RecordingMailer,
    StoreDep,
    acumbamail_lifespan,
    get_mailer,
)
from acumbamail_smtp.testserver import FakeRelay
from fastapi import Depends, FastAPI, Request
from fastapi_mail import MessageSchema, MessageType

from tests.fastapi.helpers import PASSWORD, SENDER, USERNAME, running


def mail_app(**lifespan_kwargs: Any) -> FastAPI:
    """An app whose routes send through the shared mailer."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with acumbamail_lifespan(app, **lifespan_kwargs):
            yield

    app = FastAPI(lifespan=lifespan)

    @app.post("/welcome")
    async def welcome(mailer: MailerDep, to: str = "ana@example.org") -> dict[str, Any]:
        try:
            result = await mailer.send(Message(to=to, subject="Welcome", text="Hi", category="SIGNUP"))
        except RecipientsRefused as exc:
            return {"status": exc.result.status, "suppressed": exc.result.suppressed,
                    "refused": {k: v.code for k, v in exc.result.refused.items()}}
        return {"status": result.status, "queue_id": result.queue_id, "message_id": result.message_id}

    @app.post("/plain-depends")
    async def plain(mailer: FastAPIMailer = Depends(get_mailer)) -> dict[str, Any]:  # noqa: B008
        result = await mailer.send(Message(to="bob@example.org", subject="Plain", text="t"))
        return {"status": result.status}

    @app.post("/schema")
    async def schema(mailer: MailerDep) -> dict[str, Any]:
        result = await mailer.send(MessageSchema(subject="Schema", recipients=["carla@example.org"],
                                                 body="<b>hi</b>", subtype=MessageType.html))
        return {"status": result.status}

    @app.post("/template")
    async def template(mailer: MailerDep) -> dict[str, Any]:
        result = await mailer.send_template("welcome", {"name": "Ana"}, to="ana@example.org",
                                            category="SIGNUP")
        return {"status": result.status}

    @app.get("/store")
    async def store(store: StoreDep) -> dict[str, Any]:
        return {"store": type(store).__name__ if store is not None else None}

    return app


async def test_the_lifespan_reads_the_environment_and_routes_send(relay_env: FakeRelay) -> None:
    app = FastAPI(lifespan=acumbamail_lifespan)

    @app.post("/send")
    async def send(mailer: MailerDep) -> dict[str, Any]:
        result = await mailer.send(Message(to="ana@example.org", subject="From env", text="t"))
        return {"queue_id": result.queue_id}

    async with running(app) as client:
        assert isinstance(app.state.acumbamail_mailer, FastAPIMailer)
        response = await client.post("/send")
    [received] = relay_env.wait_for(1)
    assert response.json() == {"queue_id": received.id}
    assert received.message["From"] == SENDER and received.authenticated_as == USERNAME and received.tls


async def test_both_dependency_spellings_share_one_pooled_connection(relay: FakeRelay,
                                                                     config: RelayConfig) -> None:
    app = mail_app(config=config)
    async with running(app) as client:
        assert relay.sessions == 0  # connections open lazily, at the first send
        for path in ("/welcome", "/plain-depends", "/schema", "/welcome"):
            response = await client.post(path)
            assert response.status_code == 200 and response.json()["status"] == "sent"
        mailer = app.state.acumbamail_mailer
        assert mailer.open_connections == 1
    assert len(relay.wait_for(4)) == 4
    assert relay.sessions == 1
    assert mailer.open_connections == 0  # closed at shutdown
    assert not hasattr(app.state, "acumbamail_mailer")


async def test_concurrent_requests_use_at_most_pool_size_connections(relay: FakeRelay, config: RelayConfig) -> None:
    app = mail_app(mailer=FastAPIMailer(config, pool_size=3))
    async with running(app) as client:
        responses = await asyncio.gather(*(client.post("/welcome", params={"to": f"u{i}@example.org"})
                                           for i in range(12)))
    assert all(r.json()["status"] == "sent" for r in responses)
    assert len(relay.wait_for(12)) == 12
    assert 1 <= relay.sessions <= 3


async def test_composes_with_the_apps_own_lifespan(relay: FakeRelay, config: RelayConfig) -> None:
    steps: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        steps.append("app start")
        async with acumbamail_lifespan(app, config=config):
            steps.append(f"mailer ready: {type(app.state.acumbamail_mailer).__name__}")
            yield
            steps.append("app stop")
        steps.append("mailer closed")

    app = FastAPI(lifespan=lifespan)

    @app.post("/send")
    async def send(mailer: MailerDep) -> str:
        return (await mailer.send(Message(to="ana@example.org", subject="s", text="t"))).status

    async with running(app) as client:
        assert (await client.post("/send")).json() == "sent"
    assert steps == ["app start", "mailer ready: FastAPIMailer", "app stop", "mailer closed"]


async def test_without_the_lifespan_the_dependency_says_what_is_missing() -> None:
    app = FastAPI()

    @app.post("/send")
    async def send(mailer: MailerDep) -> None:
        raise AssertionError("not reached")

    async with running(app, lifespan=False) as client:
        with pytest.raises(ConfigError, match="acumbamail_lifespan"):
            await client.post("/send")


async def test_dependency_overrides_swap_the_mailer(relay: FakeRelay, config: RelayConfig) -> None:
    app = mail_app(config=config)
    with FakeRelay(username=USERNAME, password=PASSWORD) as other:
        replacement = FastAPIMailer(other.client_config(default_from=SENDER))
        app.dependency_overrides[get_mailer] = lambda: replacement
        async with running(app) as client:
            assert (await client.post("/welcome")).json()["status"] == "sent"
        await replacement.aclose()
        assert len(other.wait_for(1)) == 1
    assert relay.messages == []


async def test_send_template_uses_the_template_folder(relay_env: FakeRelay, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "welcome.html").write_text(
        "{% block subject %}Welcome, {{ name }}{% endblock %}"
        "{% block html %}<p style='color: red'>Hello {{ name }}</p>{% endblock %}")
    monkeypatch.setenv("ACUMBAMAIL_TEMPLATE_FOLDER", str(tmp_path))
    app = mail_app()
    async with running(app) as client:
        assert (await client.post("/template")).json() == {"status": "sent"}
    [received] = relay_env.wait_for(1)
    assert (received.subject, received.category) == ("Welcome, Ana", "SIGNUP")
    assert received.html is not None and "Hello Ana" in received.html
    assert received.text is not None and "Hello Ana" in received.text


async def test_the_store_from_settings_suppresses_and_is_closed(relay_env: FakeRelay, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "events.sqlite3"
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(path))
    app = mail_app()
    async with running(app) as client:
        store = app.state.acumbamail_store
        assert (await client.get("/store")).json() == {"store": "SQLiteEventStore"}
        store.suppress("gone@example.org", "hard_bounce")
        answer = (await client.post("/welcome", params={"to": "gone@example.org"})).json()
        assert answer == {"status": "refused", "suppressed": ["gone@example.org"], "refused": {}}
        assert (await client.post("/welcome")).json()["status"] == "sent"
    assert [m.rcpt_tos for m in relay_env.wait_for(1)] == [["ana@example.org"]]
    with pytest.raises(sqlite3.ProgrammingError):
        list(store.suppressions())  # closed at shutdown: the lifespan opened it
    with SQLiteEventStore(path) as reopened:
        assert [r.status for r in reopened.sends(recipient="gone@example.org")] == ["suppressed"]


async def test_a_given_store_is_used_and_left_open(relay: FakeRelay, config: RelayConfig, tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "s.sqlite3") as store:
        app = mail_app(config=config, store=store)
        async with running(app) as client:
            assert app.state.acumbamail_mailer.store is store
            assert (await client.post("/welcome")).json()["status"] == "sent"
        assert [r.recipient for r in store.sends()] == ["ana@example.org"]


async def test_suppress_send_records_instead_of_sending(relay_env: FakeRelay,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_SUPPRESS_SEND", "1")
    app = mail_app()
    async with running(app) as client:
        mailer = app.state.acumbamail_mailer
        assert isinstance(mailer, RecordingMailer)
        assert (await client.post("/welcome")).json()["status"] == "sent"
    assert [m.subject for m in mailer.outbox] == ["Welcome"]
    assert relay_env.messages == [] and relay_env.sessions == 0


async def test_a_bad_setting_stops_the_app_at_startup(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_PORT", "smtp")
    app = FastAPI(lifespan=acumbamail_lifespan)
    with pytest.raises(ConfigError, match="ACUMBAMAIL_PORT"):
        async with running(app):
            pass


async def test_a_given_mailer_is_shared_and_closed(relay: FakeRelay, config: RelayConfig) -> None:
    mailer = FastAPIMailer(config)
    app = mail_app(mailer=mailer)

    @app.get("/same")
    async def same(request: Request, given: Annotated[FastAPIMailer, Depends(get_mailer)]) -> bool:
        return given is mailer

    async with running(app) as client:
        assert (await client.get("/same")).json() is True
        await client.post("/welcome")
        assert mailer.open_connections == 1
    assert mailer.open_connections == 0


async def test_plain_asyncio_tasks_share_the_mailer(relay: FakeRelay, config: RelayConfig) -> None:
    app = FastAPI(lifespan=lambda app: acumbamail_lifespan(app, config=config))

    @app.post("/fan-out")
    async def fan_out(mailer: MailerDep) -> list[str]:
        tasks = [asyncio.create_task(mailer.send(Message(to=f"u{i}@example.org", subject=f"n{i}", text="t")))
                 for i in range(6)]
        return [r.status for r in await asyncio.gather(*tasks)]

    async with running(app) as client:
        assert (await client.post("/fan-out")).json() == ["sent"] * 6
        mailer = app.state.acumbamail_mailer
        # and from a task started outside any request
        result = await asyncio.create_task(mailer.send(Message(to="late@example.org", subject="s", text="t")))
        assert result.status == "sent"
    assert sorted(m.subject for m in relay.wait_for(7)) == [*(f"n{i}" for i in range(6)), "s"]
    assert relay.sessions <= mailer.pool_size
