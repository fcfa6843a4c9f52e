"""The webhook router: verification, parsing and storage through the core receiver, handlers by
decorator and by dependency, the store write off the event loop, and a quick answer."""

# No "from __future__ import annotations": FastAPI reads the dependencies of a handler factory
# defined inside a test from its annotations.

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from acumbamail_smtp import ConfigError, Event, EventType, SQLiteEventStore, StoreOutcome
from acumbamail_smtp.integrations.fastapi import acumbamail_lifespan, webhook_router
from fastapi import Depends, FastAPI

from tests.fastapi.helpers import batch, event, free_socket, running, serve

TOKEN = "made-up-webhook-token-123"
JSON = {"content-type": "application/json"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(tmp_path / "events.sqlite3") as events:
        yield events


def current_tenant() -> str:
    return "shop-1"


def hook_app(store: Any, **router_kwargs: Any) -> tuple[FastAPI, Any]:
    app = FastAPI()
    router = webhook_router(store=store, **router_kwargs)
    app.include_router(router, prefix="/acumbamail")
    return app, router


async def test_events_are_stored_and_bounces_suppress(store: SQLiteEventStore) -> None:
    app, _ = hook_app(store, token=TOKEN)
    body = batch(event("delivered", "ana@example.org", "K1"), event("hard_bounces", "Gone@Example.org", "K2"),
                 event("opens", "ana@example.org", "K1"))
    async with running(app, lifespan=False) as client:
        response = await client.post(f"/acumbamail/webhook/{TOKEN}", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "received": 3, "stored": 3, "duplicates": 0, "suppressed": 1}
    assert [e.type for e in store.events()] == [EventType.DELIVERED, EventType.HARD_BOUNCE, EventType.OPENED]
    assert store.suppressed(["gone@example.org", "ana@example.org"]) == {"gone@example.org"}


async def test_the_token_may_come_in_the_query(store: SQLiteEventStore) -> None:
    app, _ = hook_app(store, token=TOKEN)
    async with running(app, lifespan=False) as client:
        ok = await client.post("/acumbamail/webhook", params={"token": TOKEN},
                               content=batch(event("clicks", "ana@example.org", url="https://example.com/x")))
    assert ok.status_code == 200
    [stored] = store.events()
    assert (stored.type, stored.url) == (EventType.CLICKED, "https://example.com/x")


@pytest.mark.parametrize(("path", "status"), [
    ("/acumbamail/webhook", 401), ("/acumbamail/webhook/wrong-token", 403),
])
async def test_failed_verification_stores_nothing(store: SQLiteEventStore, path: str, status: int) -> None:
    app, _ = hook_app(store, token=TOKEN)
    async with running(app, lifespan=False) as client:
        response = await client.post(path, content=batch(event("hard_bounces", "ana@example.org")), headers=JSON)
    assert response.status_code == status and response.json()["status"] == "error"
    assert TOKEN not in response.text
    assert list(store.events()) == [] and store.suppressed(["ana@example.org"]) == set()


async def test_basic_auth_is_challenged(store: SQLiteEventStore) -> None:
    app, _ = hook_app(store, basic_auth="hook:made-up-pw")
    async with running(app, lifespan=False) as client:
        missing = await client.post("/acumbamail/webhook", content=batch(event("opens", "a@example.org")))
        good = await client.post("/acumbamail/webhook", content=batch(event("opens", "a@example.org")),
                                 auth=("hook", "made-up-pw"))
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Basic")
    assert good.status_code == 200


async def test_malformed_and_oversized_bodies(store: SQLiteEventStore) -> None:
    app, _ = hook_app(store, token=TOKEN, max_body=2000)
    url = f"/acumbamail/webhook/{TOKEN}"
    async with running(app, lifespan=False) as client:
        malformed = await client.post(url, content=b'{"1": {"event": "opens"', headers=JSON)
        declared = await client.post(url, content=b"x" * 3000, headers=JSON)

        async def chunks() -> Any:  # no Content-Length: the body is read up to the limit
            for _ in range(10):
                yield b" " * 500

        streamed = await client.post(url, content=chunks(), headers=JSON)
    assert malformed.status_code == 400 and "JSON" in malformed.json()["error"]
    assert declared.status_code == 413 and streamed.status_code == 413
    assert list(store.events()) == []


async def test_a_duplicate_post_is_stored_once(store: SQLiteEventStore) -> None:
    app, _ = hook_app(store, token=TOKEN)
    body = batch(event("delivered", "ana@example.org", "K1", timestamp=1_750_000_000.0))
    async with running(app, lifespan=False) as client:
        await client.post(f"/acumbamail/webhook/{TOKEN}", content=body)
        again = await client.post(f"/acumbamail/webhook/{TOKEN}", content=body)
    assert again.json()["duplicates"] == 1 and len(list(store.events())) == 1


async def test_handlers_by_decorator_by_type_and_by_dependency(store: SQLiteEventStore,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    calls: list[tuple[str, str, str]] = []
    loop_thread = threading.get_ident()

    def make_handler(tenant: Annotated[str, Depends(current_tenant)]) -> Any:
        return lambda e: calls.append(("dependency", tenant, e.recipient))

    app, router = hook_app(store, token=TOKEN, handler_dependency=make_handler,
                           handlers=[lambda e: calls.append(("given", e.type.value, e.recipient))])
    threads: list[int] = []

    @router.event_handler
    async def every(e: Event) -> None:
        calls.append(("async", e.type.value, e.recipient))

    @router.event_handler("hard_bounce", EventType.COMPLAINT)
    def bounces(e: Event) -> None:
        threads.append(threading.get_ident())
        calls.append(("sync bounce", e.type.value, e.recipient))

    @router.event_handler("opened")
    def broken(e: Event) -> None:
        raise RuntimeError("handler bug")

    app.dependency_overrides[current_tenant] = lambda: "shop-2"
    body = batch(event("opens", "ana@example.org", "K1"), event("hard_bounces", "gone@example.org", "K2"))
    async with running(app, lifespan=False) as client:
        response = await client.post(f"/acumbamail/webhook/{TOKEN}", content=body)
    assert response.status_code == 200
    assert sorted(calls) == sorted([
        ("given", "opened", "ana@example.org"), ("given", "hard_bounce", "gone@example.org"),
        ("async", "opened", "ana@example.org"), ("async", "hard_bounce", "gone@example.org"),
        ("sync bounce", "hard_bounce", "gone@example.org"),
        ("dependency", "shop-2", "ana@example.org"), ("dependency", "shop-2", "gone@example.org"),
    ])
    assert threads and threads[0] != loop_thread  # sync handlers run in a worker thread
    assert any("handler bug" in (r.exc_text or "") or r.exc_info for r in caplog.records
               if "broken" in r.getMessage())


async def test_a_handler_dependency_may_return_several(store: SQLiteEventStore) -> None:
    seen: list[str] = []

    def handlers() -> list[Any]:
        return [lambda e: seen.append("one " + e.recipient), lambda e: seen.append("two " + e.recipient)]

    app, _ = hook_app(store, token=TOKEN, handler_dependency=handlers)
    async with running(app, lifespan=False) as client:
        await client.post(f"/acumbamail/webhook/{TOKEN}", content=batch(event("opens", "a@example.org")))
    assert sorted(seen) == ["one a@example.org", "two a@example.org"]


def test_an_unknown_handler_type_is_refused() -> None:
    router = webhook_router(token=TOKEN, insecure=False)
    with pytest.raises(Exception, match="unknown event type"):
        router.event_handler("bounced-maybe")


async def test_the_store_write_runs_off_the_event_loop(tmp_path: Path) -> None:
    writers: list[int] = []

    class WatchedStore(SQLiteEventStore):
        def store_events(self, events: Sequence[Event]) -> StoreOutcome:
            writers.append(threading.get_ident())
            return super().store_events(events)

    with WatchedStore(tmp_path / "w.sqlite3") as watched:
        app, _ = hook_app(watched, token=TOKEN)
        async with running(app, lifespan=False) as client:
            assert (await client.post(f"/acumbamail/webhook/{TOKEN}",
                                      content=batch(event("opens", "a@example.org")))).status_code == 200
    assert writers and writers[0] != threading.get_ident()


async def test_settings_from_the_lifespan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "app.sqlite3"))
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_TOKEN", TOKEN)
    monkeypatch.setenv("ACUMBAMAIL_DEFAULT_FROM", "shop@example.com")
    app = FastAPI(lifespan=acumbamail_lifespan)
    app.include_router(webhook_router(), prefix="/hooks")
    async with running(app) as client:
        good = await client.post(f"/hooks/webhook/{TOKEN}", content=batch(event("complaints", "ana@example.org")))
        bad = await client.post("/hooks/webhook/nope", content=batch(event("complaints", "bob@example.org")))
        store = app.state.acumbamail_store
        assert store.suppressed(["ana@example.org", "bob@example.org"]) == {"ana@example.org"}
    assert (good.status_code, bad.status_code) == (200, 403)


async def test_bad_webhook_settings_stop_the_app_at_startup(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "app.sqlite3"))
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_BASIC_AUTH", "no-colon-here")
    app = FastAPI(lifespan=acumbamail_lifespan)
    with pytest.raises(Exception, match="(?i)basic_auth"):
        async with running(app):
            pass


async def test_an_unverified_endpoint_stops_the_app_at_startup(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Refused in the lifespan, not with a 500 at every post (which the sender would retry for ever).
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "app.sqlite3"))
    app = FastAPI(lifespan=acumbamail_lifespan)
    app.include_router(webhook_router(), prefix="/acumbamail")
    with pytest.raises(ConfigError) as caught:
        async with running(app):
            pass
    assert caught.value.field == "ACUMBAMAIL_WEBHOOK_TOKEN"
    assert "configure a token, basic_auth or signing_secrets" in str(caught.value)


async def test_an_endpoint_marked_insecure_starts_and_stores(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACUMBAMAIL_STORE", str(tmp_path / "app.sqlite3"))
    monkeypatch.setenv("ACUMBAMAIL_WEBHOOK_INSECURE", "1")
    app = FastAPI(lifespan=acumbamail_lifespan)
    app.include_router(webhook_router(), prefix="/acumbamail")
    async with running(app) as client:
        response = await client.post("/acumbamail/webhook", content=batch(event("opens", "a@example.org")))
        assert [e.recipient for e in app.state.acumbamail_store.events()] == ["a@example.org"]
    assert response.status_code == 200


async def test_no_store_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    app = FastAPI()
    app.include_router(webhook_router(token=TOKEN), prefix="/acumbamail")
    async with running(app, lifespan=False) as client:
        response = await client.post(f"/acumbamail/webhook/{TOKEN}", content=batch(event("opens", "a@example.org")))
    assert response.status_code == 500
    assert any("ACUMBAMAIL_STORE" in r.getMessage() for r in caplog.records)


def test_misconfiguration_with_an_explicit_store_fails_when_the_router_is_made(store: SQLiteEventStore) -> None:
    with pytest.raises(Exception, match="signing_secrets"):
        webhook_router(store=store, signing_secrets="not base64 !!")


def test_the_answer_does_not_wait_for_the_handlers(store: SQLiteEventStore) -> None:
    """Under uvicorn: the 200 arrives while a slow handler is still running."""
    release = threading.Event()
    finished = threading.Event()
    app, router = hook_app(store, token=TOKEN)

    @router.event_handler
    def slow(e: Event) -> None:
        release.wait(30)
        finished.set()

    sock = free_socket()
    with serve(app, sock) as url:
        response = httpx.post(f"{url}/acumbamail/webhook/{TOKEN}", content=batch(event("opens", "a@example.org")),
                              timeout=20)
        assert response.status_code == 200
        assert not finished.is_set()  # the handler is still waiting, yet the answer is here
        assert len(list(store.events())) == 1  # and the event was stored before it
        release.set()
        assert finished.wait(20)


async def test_async_handlers_may_await(store: SQLiteEventStore) -> None:
    seen: list[str] = []
    app, router = hook_app(store, token=TOKEN)

    @router.event_handler("delivered")
    async def later(e: Event) -> None:
        await asyncio.sleep(0)
        seen.append(e.recipient)

    async with running(app, lifespan=False) as client:
        await client.post(f"/acumbamail/webhook/{TOKEN}", content=batch(event("delivered", "x@example.org"),
                                                                        event("opens", "y@example.org")))
    assert seen == ["x@example.org"]


def test_logs_name_no_secret(caplog: pytest.LogCaptureFixture, store: SQLiteEventStore) -> None:
    caplog.set_level(logging.DEBUG)
    app, _ = hook_app(store, token=TOKEN)

    async def go() -> None:
        async with running(app, lifespan=False) as client:
            await client.post("/acumbamail/webhook/guess", content=batch(event("opens", "a@example.org")))

    asyncio.run(go())
    assert caplog.records and TOKEN not in caplog.text
