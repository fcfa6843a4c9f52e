"""Hostile relays (issue 16, item 1): endless, dripping and oversized replies end in a
ConnectionFailed that says what the relay did, in both mailers, during setup and in the exchange.
Small limits keep the tests fast; the hostile server gives up by itself after a few seconds, so a
client without limits fails the assertion on the message instead of hanging."""

from __future__ import annotations

import asyncio

import pytest
from acumbamail_smtp import AsyncMailer, ConnectionFailed, Mailer, Message, RelayConfig
from acumbamail_smtp.smtp.reading import ReplyError, ReplyLimits, ReplyParser

from .hostile import dripping_bytes, dripping_lines, endless_lines, hostile_relay, oversized_line

SMALL = {"max_reply_lines": 20, "max_reply_line": 256, "max_reply_bytes": 4096, "reply_timeout": 0.5}


def _message() -> Message:
    return Message(from_email="shop@example.com", to="ana@example.org", subject="Hi", text="Hello")


def _send_sync(config: RelayConfig) -> ConnectionFailed:
    with pytest.raises(ConnectionFailed) as info:
        Mailer(config.replace(**SMALL)).send(_message())
    return info.value


def _send_async(config: RelayConfig) -> ConnectionFailed:
    async def go() -> None:
        async with AsyncMailer(config.replace(**SMALL)) as mailer:
            await mailer.send(_message())

    with pytest.raises(ConnectionFailed) as info:
        asyncio.run(go())
    return info.value


SENDERS = [pytest.param(_send_sync, id="sync"), pytest.param(_send_async, id="async")]


@pytest.mark.parametrize("send", SENDERS)
@pytest.mark.parametrize("stage", ["MAIL", "RCPT", "DATA"])
def test_endless_lines_in_the_exchange(send, stage: str) -> None:
    with hostile_relay(stage, endless_lines) as config:
        assert "reply exceeded 20 lines" in str(send(config))


@pytest.mark.parametrize("send", SENDERS)
def test_dripping_lines_meet_the_reply_deadline(send) -> None:
    with hostile_relay("MAIL", dripping_lines) as config:
        assert "no complete reply from the relay within 0.5 s" in str(send(config.replace(max_reply_lines=10_000,
                                                                                          max_reply_bytes=10**6)))


@pytest.mark.parametrize("send", SENDERS)
def test_dripping_bytes_of_one_line_meet_the_reply_deadline(send) -> None:
    with hostile_relay("MAIL", dripping_bytes) as config:
        assert "no complete reply from the relay within 0.5 s" in str(send(config))


@pytest.mark.parametrize("send", SENDERS)
def test_oversized_line_in_the_exchange(send) -> None:
    with hostile_relay("RCPT", oversized_line) as config:
        assert "reply line longer than 256 bytes" in str(send(config))


def test_sync_setup_is_bounded_at_every_reply() -> None:
    for stage, behaviour, said in [
        ("BANNER", endless_lines, "reply exceeded 20 lines"),
        ("EHLO", endless_lines, "reply exceeded 20 lines"),
        ("EHLO", dripping_lines, "within 0.5 s"),
        ("BANNER", dripping_bytes, "within 0.5 s"),
        ("EHLO", oversized_line, "longer than 256 bytes"),
    ]:
        with hostile_relay(stage, behaviour) as config:
            failure = _send_sync(config.replace(max_reply_lines=10_000, max_reply_bytes=10**6)
                                 if behaviour is dripping_lines else config)
            assert said in str(failure), (stage, behaviour.__name__, str(failure))
            assert f"127.0.0.1:{config.port}" in str(failure)


def test_sync_auth_reply_is_bounded() -> None:
    with hostile_relay("AUTH", endless_lines) as config:
        failure = _send_sync(config.replace(username="u@example.com", password="pw-123456",
                                            allow_insecure=True))
        assert "reply exceeded 20 lines" in str(failure)


def test_async_setup_is_bounded_at_every_reply() -> None:
    # The async setup is aiosmtplib's (32 KiB per reply, a timeout per reply), then our limits.
    for stage, behaviour, said in [
        ("BANNER", endless_lines, "too long"),
        ("EHLO", endless_lines, "too long"),
        ("EHLO", dripping_lines, "Timed out"),
        ("BANNER", dripping_bytes, "Timed out"),
        ("EHLO", oversized_line, "too long"),
        ("AUTH", endless_lines, "too long"),
    ]:
        with hostile_relay(stage, behaviour) as config:
            if stage == "AUTH":
                config = config.replace(username="u@example.com", password="pw-123456", allow_insecure=True)
            failure = _send_async(config)
            assert said in str(failure), (stage, behaviour.__name__, str(failure))


def test_async_setup_applies_the_line_count() -> None:
    def twenty_five(conn, line):
        conn.sendall(b"250-x\r\n" * 24 + b"250 done\r\n")

    with hostile_relay("EHLO", twenty_five) as config:
        assert "reply exceeded 20 lines" in str(_send_async(config))


def test_parser_scans_each_byte_once_and_keeps_limits() -> None:
    parser = ReplyParser(ReplyLimits(lines=5, line_bytes=64, reply_bytes=4096))
    reply = b"250-one\r\n250-two\r\n250 three\r\n"
    for byte in reply:
        parser.feed(bytes([byte]))
        answer = parser.next_reply()
        assert answer is None or byte == reply[-1]
    assert answer is not None and answer.code == 250 and answer.text == "one\ntwo\nthree"
    assert parser.next_reply() is None and not parser._buffer  # nothing kept, nothing to rescan
    parser.feed(b"250-partial line without an end")
    assert parser.next_reply() is None and parser._scan == len(parser._buffer)
    parser.feed(b"x" * 64)
    with pytest.raises(ReplyError, match="longer than 64 bytes"):
        parser.next_reply()
