"""send_in_background: validated in the request, sent after the response, result to a callback and
the log; failures logged with the message id and never the secret."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from acumbamail_smtp import AuthenticationError, InvalidMessage, Message, RelayConfig, SendResult
from acumbamail_smtp.integrations.fastapi import MailerDep, acumbamail_lifespan, send_in_background
from acumbamail_smtp.testserver import FakeRelay
from fastapi import BackgroundTasks, FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_mail import MessageSchema, MessageType

from tests.fastapi.helpers import PASSWORD, running


def background_app(config: RelayConfig, outcomes: list[Any], *, use_async: bool = True,
                   failing_callback: bool = False) -> FastAPI:
    app = FastAPI(lifespan=lambda app: acumbamail_lifespan(app, config=config))

    async def on_result_async(result: SendResult) -> None:
        outcomes.append(result)
        if failing_callback:
            raise RuntimeError("callback broke")

    def on_result_sync(result: SendResult) -> None:
        outcomes.append(result)

    def on_error(message_id: str, exc: Exception) -> None:
        outcomes.append((message_id, exc))

    @app.exception_handler(InvalidMessage)
    async def invalid(request: Request, exc: InvalidMessage) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=400)

    @app.post("/signup")
    async def signup(background_tasks: BackgroundTasks, mailer: MailerDep, to: str = "ana@example.org",
                     schema: bool = False) -> dict[str, str]:
        message: Any = (MessageSchema(subject="Welcome", recipients=[to], body="hi", subtype=MessageType.plain)
                        if schema else Message(to=to, subject="Welcome", text="hi"))
        message_id = send_in_background(background_tasks, message, mailer=mailer,
                                        on_result=on_result_async if use_async else on_result_sync,
                                        on_error=on_error)
        return {"message_id": message_id}

    return app


@pytest.mark.parametrize("use_async", [True, False])
async def test_the_result_reaches_the_callback(relay: FakeRelay, config: RelayConfig, use_async: bool) -> None:
    outcomes: list[Any] = []
    async with running(background_app(config, outcomes, use_async=use_async)) as client:
        response = await client.post("/signup")
        second = await client.post("/signup", params={"schema": True, "to": "bob@example.org"})
    received = relay.wait_for(2)
    [first, other] = outcomes
    assert isinstance(first, SendResult) and first.status == "sent"
    assert response.json() == {"message_id": first.message_id}
    assert second.json() == {"message_id": other.message_id}
    assert [first.queue_id, other.queue_id] == [m.id for m in received]
    assert received[0].message["Message-ID"] == first.message_id


async def test_an_invalid_message_fails_in_the_request(relay: FakeRelay, config: RelayConfig) -> None:
    outcomes: list[Any] = []
    async with running(background_app(config, outcomes)) as client:
        response = await client.post("/signup", params={"to": "not-an-address"})
    assert response.status_code == 400 and "to" in response.json()["error"]
    assert outcomes == [] and relay.messages == [] and relay.sessions == 0


async def test_a_failure_is_logged_with_the_message_id_and_no_secret(relay: FakeRelay, config: RelayConfig,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    relay.fail_auth()
    outcomes: list[Any] = []
    caplog.set_level(logging.DEBUG)
    async with running(background_app(config, outcomes)) as client:
        response = await client.post("/signup")
    message_id = response.json()["message_id"]
    [(failed_id, exc)] = outcomes
    assert failed_id == message_id and isinstance(exc, AuthenticationError)
    errors = [r for r in caplog.records if r.name == "acumbamail_smtp.fastapi" and r.levelno == logging.ERROR]
    assert len(errors) == 1 and message_id in errors[0].getMessage()
    assert PASSWORD not in caplog.text


async def test_a_refused_result_goes_to_the_callback_and_the_log(relay: FakeRelay, config: RelayConfig,
                                                                 caplog: pytest.LogCaptureFixture) -> None:
    relay.hard_bounce("gone@example.org")
    outcomes: list[Any] = []
    async with running(background_app(config, outcomes)) as client:
        await client.post("/signup", params={"to": "gone@example.org"})
    [result] = outcomes
    assert isinstance(result, SendResult) and result.status == "refused"
    assert result.refused["gone@example.org"].code == 550
    assert any(r.levelno == logging.WARNING and result.message_id in r.getMessage() for r in caplog.records)


async def test_a_failing_callback_is_logged_not_raised(relay: FakeRelay, config: RelayConfig,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    outcomes: list[Any] = []
    async with running(background_app(config, outcomes, failing_callback=True)) as client:
        response = await client.post("/signup")
        assert response.status_code == 200
        assert (await client.post("/signup")).status_code == 200
    assert len(outcomes) == 2 and len(relay.wait_for(2)) == 2
    assert sum("on_result callback failed" in r.getMessage() for r in caplog.records) == 2
