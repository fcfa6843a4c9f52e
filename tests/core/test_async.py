"""AsyncMailer against the fake relay: a bounded pool of reused connections, same rules as Mailer."""

from __future__ import annotations

import asyncio

import pytest
from acumbamail_smtp import (
    AsyncMailer,
    AuthenticationError,
    ConfigError,
    ConnectionFailed,
    InvalidMessage,
    RecipientsRefused,
    TransientError,
)
from acumbamail_smtp.testserver import FakeRelay

from .test_transport import msg


async def test_send_and_pool_reuse(relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(), pool_size=3) as mailer:
        first = await mailer.send(msg(0))
        results = await mailer.send_many(msg(i) for i in range(1, 31))
        assert mailer.open_connections <= 3
    assert first.status == "sent" and first.queue_id
    assert [r.accepted[0] for r in results] == [f"user{i}@example.org" for i in range(1, 31)]
    received = relay.wait_for(31)
    assert len({m.id for m in received}) == 31
    assert relay.sessions <= 3
    assert {m.category for m in received} == {"SIGNUP"}


async def test_shared_across_tasks_of_one_loop(relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(), pool_size=2) as mailer:
        results = await asyncio.gather(*(mailer.send(msg(i)) for i in range(12)))
    assert all(r.status == "sent" for r in results)
    assert len(relay.wait_for(12)) == 12
    assert relay.sessions <= 2


async def test_implicit_tls(relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(port=relay.tls_port, security="tls")) as mailer:
        await mailer.send(msg())
    assert relay.wait_for(1)[0].tls


@pytest.mark.parametrize("fault", ["close_after", "drop_after"])
async def test_lost_connection_is_retried_without_duplicates(relay: FakeRelay, fault: str) -> None:
    getattr(relay, fault)(4)
    async with AsyncMailer(relay.client_config(), pool_size=1) as mailer:
        results = await mailer.send_many(msg(i) for i in range(10))
    assert all(r.status == "sent" for r in results)
    ids = [m.message["Message-ID"] for m in relay.wait_for(10)]
    assert len(ids) == len(set(ids)) == 10


async def test_partially_refused_and_all_refused(relay: FakeRelay) -> None:
    relay.soft_bounce("later@example.org")
    relay.hard_bounce("gone@example.org")
    async with AsyncMailer(relay.client_config()) as mailer:
        partial = await mailer.send(msg(to=["ok@example.org", "later@example.org", "gone@example.org"]))
        with pytest.raises(RecipientsRefused) as info:
            await mailer.send(msg(to="gone@example.org"))
        batch = await mailer.send_many([msg(1), msg(2, to="gone@example.org")])
    assert partial.status == "partially_refused"
    assert {a: r.code for a, r in partial.refused.items()} == {"later@example.org": 451, "gone@example.org": 550}
    assert info.value.result.refused["gone@example.org"].code == 550
    assert [r.status for r in batch] == ["sent", "refused"]


async def test_transient_failures(relay: FakeRelay) -> None:
    relay.fail_next_data(code=451, times=1)
    async with AsyncMailer(relay.client_config()) as mailer:
        assert (await mailer.send(msg())).status == "sent"
        relay.fail_next_data(code=451, times=9)
        with pytest.raises(TransientError) as info:
            await AsyncMailer(relay.client_config(max_tries=2)).send_many([msg(1), msg(2)])
    assert info.value.results is not None and len(info.value.results) == 2


async def test_errors_map_like_the_sync_transport(relay: FakeRelay) -> None:
    with pytest.raises(AuthenticationError, match="may not be enabled"):
        await AsyncMailer(relay.client_config(password="wrong-pw-1")).send(msg())
    with pytest.raises(ConnectionFailed, match="TLS") as info:
        await AsyncMailer(relay.client_config(ca_file=None)).send(msg())
    assert info.value.retryable is False
    with pytest.raises(InvalidMessage):
        await AsyncMailer(relay.client_config()).send_many([msg(1), msg(2, to="nobody")])
    assert relay.messages == []


async def test_server_without_starttls() -> None:
    with FakeRelay(username="u@example.com", password="made-up-pw", starttls=False) as relay:
        with pytest.raises(ConnectionFailed, match="STARTTLS"):
            await AsyncMailer(relay.client_config()).send(msg())


def test_pool_size_is_validated() -> None:
    with pytest.raises(ConfigError, match="pool_size"):
        AsyncMailer(pool_size=0)


async def test_a_cancelled_send_never_leaks_into_the_next_message(relay: FakeRelay) -> None:
    async with AsyncMailer(relay.client_config(), pool_size=1) as mailer:
        await mailer.send(msg(0, to="warm@example.org"))  # the pooled connection is open
        relay.delay_replies(0.3)
        first = asyncio.ensure_future(mailer.send(msg(1, to="first@example.org")))
        await asyncio.sleep(0.1)  # MAIL/RCPT/DATA written, replies pending
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        relay.delay_replies(0)
        second = await mailer.send(msg(2, to="second@example.org", subject="Second"))
    assert second.accepted == ["second@example.org"]
    received = relay.wait_for(2)
    for item in received:
        assert b"RCPT TO" not in item.data, "one message's commands ended up in another's body"
        if item.rcpt_tos == ["first@example.org"]:
            assert str(item.message["Subject"]) == "Message 1"
    assert received[-1].rcpt_tos == ["second@example.org"]
    assert str(received[-1].message["Subject"]) == "Second"


async def test_async_conversation_is_logged_and_the_secret_never_leaks(
        relay: FakeRelay, caplog: pytest.LogCaptureFixture) -> None:
    import base64
    import logging

    from .conftest import PASSWORD, USERNAME

    caplog.set_level(logging.DEBUG)
    async with AsyncMailer(relay.client_config()) as mailer:
        await mailer.send(msg())
    errors: list[BaseException] = []
    for config in (relay.client_config(password=PASSWORD + "x"), relay.client_config(ca_file=None)):
        try:
            await AsyncMailer(config).send(msg())
        except Exception as exc:
            errors.append(exc)
    assert len(errors) == 2
    text = caplog.text
    assert "MAIL FROM" in text, "the async conversation is not logged"
    assert "STARTTLS" in text
    assert "redacted" in text
    plain = base64.b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, plain, base64.b64encode(PASSWORD.encode()).decode()):
        assert secret not in text
        for exc in errors:
            chain: BaseException | None = exc
            while chain is not None:
                assert secret not in str(chain)
                assert secret not in repr(chain)
                chain = chain.__cause__ or chain.__context__
