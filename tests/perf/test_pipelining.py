"""SMTP PIPELINING (RFC 2920) in both transports, over real SMTP on 127.0.0.1: against the fake
relay with and without PIPELINING, with refused recipients, 421, dropped connections and failed
DATA inside a pipeline, and against a lean sink that proves the commands really were pipelined
and that no body follows a refused DATA."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from acumbamail_smtp import AsyncMailer, Mailer, Message, RecipientsRefused, RelayConfig
from acumbamail_smtp.testserver import FakeRelay

from benchmarks.sink import Sink

USERNAME = "pipeliner@example.com"
PASSWORD = "made-up-Pipe-Secret-7"  # not a real credential


@pytest.fixture(params=[True, False], ids=["pipelining", "no-pipelining"])
def relay(request: pytest.FixtureRequest) -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD, pipelining=request.param) as server:
        yield server


@pytest.fixture(params=["sync", "async"])
def send_many(request: pytest.FixtureRequest) -> Any:
    """send_many through the Mailer or an AsyncMailer with one connection (so order is fixed)."""

    def sync(config: RelayConfig, messages: list[Message]) -> list[Any]:
        with Mailer(config) as mailer:
            return mailer.send_many(messages)

    def aio(config: RelayConfig, messages: list[Message]) -> list[Any]:
        async def run() -> list[Any]:
            async with AsyncMailer(config, pool_size=1) as mailer:
                return await mailer.send_many(messages)

        return asyncio.run(run())

    return sync if request.param == "sync" else aio


def msg(i: int, to: str | list[str] | None = None, **fields: Any) -> Message:
    values: dict[str, Any] = {"from_email": "Shop <shop@example.com>", "to": to or f"user{i}@example.org",
                              "subject": f"Message {i}", "text": f"body {i}", "html": f"<p>body {i}</p>",
                              "category": "SIGNUP"}
    return Message(**{**values, **fields})


def sink_config(sink: Sink, **overrides: Any) -> RelayConfig:
    values: dict[str, Any] = {"host": "127.0.0.1", "port": sink.port, "username": USERNAME, "password": PASSWORD,
                              "security": "none", "allow_insecure": True, "timeout": 5.0, "retry_backoff": 0.01}
    values.update(overrides)
    return RelayConfig(**values)


def test_refused_recipient_inside_the_pipeline_is_reported(relay: FakeRelay, send_many: Any) -> None:
    relay.hard_bounce("gone@example.org")
    relay.soft_bounce("full@example.org")
    [result] = send_many(relay.client_config(), [msg(0, ["a@example.org", "gone@example.org",
                                                           "full@example.org", "b@example.org"])])
    assert result.status == "partially_refused"
    assert result.accepted == ["a@example.org", "b@example.org"]
    assert result.refused["gone@example.org"].code == 550
    assert result.refused["full@example.org"].code == 451
    [received] = relay.wait_for(1)
    assert received.rcpt_tos == ["a@example.org", "b@example.org"]
    assert received.id == result.queue_id


def test_all_recipients_refused_sends_no_body_and_the_connection_goes_on(relay: FakeRelay, send_many: Any) -> None:
    relay.hard_bounce("gone@example.org")
    relay.hard_bounce("also-gone@example.org")
    results = send_many(relay.client_config(), [msg(0, ["gone@example.org", "also-gone@example.org"]), msg(1)])
    assert results[0].status == "refused"
    assert set(results[0].refused) == {"gone@example.org", "also-gone@example.org"}
    assert results[0].reply is None
    assert results[1].status == "sent"
    received = relay.wait_for(1)
    assert [m.message["Subject"] for m in received] == ["Message 1"]
    assert relay.sessions == 1  # RSET, not a reconnect


def test_single_send_with_every_recipient_refused_raises(relay: FakeRelay) -> None:
    relay.hard_bounce("gone@example.org")
    with pytest.raises(RecipientsRefused) as info:
        Mailer(relay.client_config()).send(msg(0, "gone@example.org"))
    assert info.value.result.refused["gone@example.org"].code == 550


def test_421_mid_batch_reconnects_and_resumes(relay: FakeRelay, send_many: Any) -> None:
    relay.close_after(2)
    results = send_many(relay.client_config(), [msg(i) for i in range(5)])
    assert [r.status for r in results] == ["sent"] * 5
    received = relay.wait_for(5)
    assert sorted(m.message["Subject"] for m in received) == [f"Message {i}" for i in range(5)]
    assert relay.sessions == 2


def test_dropped_connection_mid_pipeline_resends_once(relay: FakeRelay, send_many: Any) -> None:
    relay.drop_after(1)
    results = send_many(relay.client_config(), [msg(i) for i in range(4)])
    assert [r.status for r in results] == ["sent"] * 4
    received = relay.wait_for(4)
    assert sorted(m.message["Subject"] for m in received) == [f"Message {i}" for i in range(4)]
    assert len({r.queue_id for r in results}) == 4


def test_failed_data_is_retried_after_rset(relay: FakeRelay, send_many: Any) -> None:
    relay.fail_next_data(451, "4.3.0 try again later")
    results = send_many(relay.client_config(), [msg(0), msg(1)])
    assert [r.status for r in results] == ["sent", "sent"]
    assert len(relay.wait_for(2)) == 2


def test_lines_starting_with_dots_arrive_intact(relay: FakeRelay, send_many: Any) -> None:
    text = ".\n..\n.leading\nmiddle\n. \n.."
    [result] = send_many(relay.client_config(), [msg(0, text=text)])
    assert result.status == "sent"
    [received] = relay.wait_for(1)
    body = received.message.get_body(("plain",))
    assert body is not None
    assert body.get_content().replace("\r\n", "\n") == text + "\n"


def test_commands_really_are_pipelined(send_many: Any) -> None:
    # This sink answers MAIL and RCPT only once DATA has arrived: a client that waits for each
    # reply before sending the next command would stall here until its timeout.
    with Sink(hold=True, record=True) as sink:
        results = send_many(sink_config(sink, timeout=3.0, max_tries=1),
                            [msg(i, ["a@example.org", "b@example.org"]) for i in range(3)])
    assert [r.status for r in results] == ["sent"] * 3
    assert sink.stats.messages == 3
    assert sink.stats.sessions == 1
    assert sink.stats.batched_commands > 0


def test_without_pipelining_one_command_at_a_time(send_many: Any) -> None:
    with Sink(pipelining=False) as sink:
        results = send_many(sink_config(sink), [msg(i, ["a@example.org", "b@example.org"]) for i in range(3)])
    assert [r.status for r in results] == ["sent"] * 3
    assert sink.stats.messages == 3
    assert sink.stats.batched_commands == 0  # never two commands in one packet


def test_refused_data_means_no_body_then_rset(send_many: Any) -> None:
    with Sink(record=True, refuse={"gone@example.org"}) as sink:
        results = send_many(sink_config(sink), [msg(0, "gone@example.org"), msg(1)])
    assert [r.status for r in results] == ["refused", "sent"]
    assert sink.stats.unknown_commands == []  # no body line was taken for a command
    verbs = [c.split(b" ")[0].split(b":")[0].upper() for c in sink.stats.commands]
    first_data = verbs.index(b"DATA")
    assert verbs[first_data + 1] == b"RSET"
    assert sink.stats.messages == 1


def test_data_accepted_with_no_recipient_gets_only_the_dot(send_many: Any) -> None:
    # RFC 2920 3.1: a server may answer 354 even when every RCPT was refused.
    with Sink(record=True, refuse={"gone@example.org"}, accept_empty_data=True) as sink:
        results = send_many(sink_config(sink), [msg(0, "gone@example.org"), msg(1)])
    assert [r.status for r in results] == ["refused", "sent"]
    assert sink.stats.bodies[0] == b""
    assert b"Message 1" in sink.stats.bodies[1]
    assert sink.stats.unknown_commands == []
