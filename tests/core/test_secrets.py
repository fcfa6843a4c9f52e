"""Secrets (issue 16, item 6): a relay that echoes the AUTH data leaks nothing into the error or the
DEBUG transcript, and no frame of an AuthenticationError's traceback holds the secret in its locals
(error trackers such as Sentry record them)."""

from __future__ import annotations

import asyncio
import base64
import logging
import traceback
from collections.abc import Iterator

import pytest
from acumbamail_smtp import AsyncMailer, AuthenticationError, Mailer, Message, RelayConfig
from acumbamail_smtp.smtp import auth
from acumbamail_smtp.testserver import FakeRelay

from .conftest import PASSWORD, USERNAME
from .hostile import echo_auth, hostile_relay


def _forms(user: str, secret: str) -> list[str]:
    """The secret as it may leak: in clear and in each base64 form AUTH puts on the wire."""
    return [secret, base64.b64encode(secret.encode()).decode(),
            base64.b64encode(f"\0{user}\0{secret}".encode()).decode()]


def _message() -> Message:
    return Message(from_email="shop@example.com", to="ana@example.org", subject="Hi", text="Hello")


def _fail_sync(config: RelayConfig) -> AuthenticationError:
    with pytest.raises(AuthenticationError) as info:
        Mailer(config).send(_message())
    return info.value


def _fail_async(config: RelayConfig) -> AuthenticationError:
    async def go() -> None:
        async with AsyncMailer(config) as mailer:
            await mailer.send(_message())

    with pytest.raises(AuthenticationError) as info:
        asyncio.run(go())
    return info.value


SENDERS = [pytest.param(_fail_sync, id="sync"), pytest.param(_fail_async, id="async")]


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    while exc is not None:
        yield exc
        exc = exc.__cause__ or exc.__context__


@pytest.mark.parametrize("fail", SENDERS)
def test_a_relay_echoing_auth_leaks_nothing(fail, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    user, secret = "echo@example.com", "Echo-Secret-9876"
    with hostile_relay("AUTH", echo_auth) as config:
        error = fail(config.replace(username=user, password=secret, allow_insecure=True))
    assert error.code == 535 and "rejected" in str(error)
    assert "<redacted>" in (error.text or "")
    transcript = caplog.text
    assert "redacted during AUTH" in transcript and "535" in transcript
    for form in _forms(user, secret):
        assert form not in transcript
        for exc in _chain(error):
            assert form not in str(exc) and form not in repr(exc) and form not in str(getattr(exc, "text", ""))


@pytest.mark.parametrize("fail", SENDERS)
def test_no_frame_of_an_authentication_error_holds_the_secret(fail, relay: FakeRelay) -> None:
    error = fail(relay.client_config(password=PASSWORD + "-wrong"))
    wrong = PASSWORD + "-wrong"
    forms = _forms(USERNAME, wrong)
    frames = 0
    for exc in _chain(error):
        for frame, _ in traceback.walk_tb(exc.__traceback__):
            if frame.f_code.co_filename == __file__:
                continue  # this test's own frames hold the secret on purpose
            frames += 1
            for name, value in frame.f_locals.items():
                shown = [repr(value)]
                if isinstance(value, str):
                    shown.append(value)
                elif isinstance(value, bytes | bytearray):
                    shown.append(bytes(value).decode("latin-1"))
                for text in shown:
                    for form in forms:
                        assert form not in text, (frame.f_code.co_name, name)
    assert frames >= 3  # the library's frames were walked, not only this test's


def test_scrub_finds_the_secret_at_any_base64_alignment() -> None:
    config = RelayConfig(username="a@example.com", password="hunter2-long-secret", security="none",
                         allow_insecure=True)
    for prefix in ("", "x", "xy", "\0a@example.com\0"):
        blob = base64.b64encode((prefix + "hunter2-long-secret").encode()).decode()
        scrubbed = auth.scrub(f"535 5.7.8 got {blob} and hunter2-long-secret", config)
        assert "hunter2" not in scrubbed and blob not in scrubbed
        assert scrubbed.startswith("535 5.7.8 got <redacted>")
    assert auth.scrub("535 5.7.8 Authentication credentials invalid", config) == \
        "535 5.7.8 Authentication credentials invalid"


def test_auth_mechanisms() -> None:
    assert auth.mechanism("LOGIN PLAIN CRAM-MD5") == "PLAIN"
    assert auth.mechanism("login") == "LOGIN"
    with pytest.raises(Exception, match="no AUTH mechanism we support"):
        auth.mechanism("CRAM-MD5")
