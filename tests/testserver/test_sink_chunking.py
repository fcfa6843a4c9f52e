"""CHUNKING in the benchmark sink (benchmarks/sink.py): what the chunking mailers are measured
against must read BDAT right, pipelined, and keep its replies in order under ``delay``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from acumbamail_smtp.testserver import TurnCounter

from benchmarks.sink import Sink
from tests.testserver.relay_helpers import RawSMTP, bdat, build_message, envelope_group


@pytest.fixture
def sink_client() -> Iterator[Any]:
    """``sink_client(**Sink kwargs)``: a started sink (recording) and a logged-in raw client."""
    opened: list[tuple[Sink, RawSMTP]] = []

    def make(**kwargs: Any) -> tuple[Sink, RawSMTP]:
        sink = Sink(record=True, **kwargs).__enter__()
        client = RawSMTP("127.0.0.1", sink.port)
        opened.append((sink, client))
        client.login("bench@example.com", "made-up-password")
        return sink, client

    yield make
    for sink, client in opened:
        client.close()
        sink.__exit__(None, None, None)


def test_chunking_is_announced_only_when_asked(sink_client):
    _, with_it = sink_client(chunking=True)
    _, without = sink_client()
    assert b"CHUNKING" in with_it.command(b"EHLO client.example.com")[1].split(b"\n")
    assert b"CHUNKING" not in without.command(b"EHLO client.example.com")[1]
    assert without.command(b"BDAT 0 LAST")[0] == 502


def test_chunks_pipelined_with_two_messages_in_one_write(sink_client):
    sink, client = sink_client(chunking=True)
    first = b"Subject: one\r\n\r\n.\r\n..dots stay\r\n"
    second = build_message("two") + b"no final line end"
    client.send(
        envelope_group(["a@example.com"]) + bdat(first[:7]) + bdat(first[7:], last=True)
        + envelope_group(["b@example.com"]) + bdat(second, last=True) + bdat(b"", last=True)
    )
    replies = client.replies(8)
    assert replies[2] == (250, b"2.0.0 7 octets received")
    assert [code for code, _ in replies] == [250, 250, 250, 250, 250, 250, 250, 503]
    assert replies[3] == (250, b"2.0.0 Ok: queued as 1")
    assert sink.stats.bodies == [first, second]
    assert (sink.stats.messages, sink.stats.chunks) == (2, 4)


def test_a_chunk_split_across_many_writes(sink_client):
    sink, client = sink_client(chunking=True)
    body = bytes(range(256)) * 400  # every octet value, CR, LF and dots included
    client.send(envelope_group(["a@example.com"]) + b"BDAT %d LAST\r\n" % len(body))
    for start in range(0, len(body), 1000):
        client.send(body[start:start + 1000])
    client.send(b"NOOP\r\n")
    assert [code for code, _ in client.replies(4)] == [250, 250, 250, 250]
    assert sink.stats.bodies == [body]


def test_an_empty_last_chunk_and_a_refused_transaction(sink_client):
    sink, client = sink_client(chunking=True, refuse={"gone@example.com"})
    client.send(envelope_group(["gone@example.com"]) + bdat(b"RSET\r\n", last=True))
    assert [code for code, _ in client.replies(3)] == [250, 550, 503]
    client.send(envelope_group(["a@example.com"]) + bdat(b"x\r\n") + bdat(b"", last=True))
    assert [code for code, _ in client.replies(4)] == [250, 250, 250, 250]
    assert sink.stats.bodies == [b"x\r\n"]


@pytest.mark.parametrize("command", [b"BDAT", b"BDAT x", b"BDAT 5 FIRST", b"BDAT 1 LAST NOW"])
def test_a_bad_size_is_501_and_closes(sink_client, command):
    _, client = sink_client(chunking=True)
    client.send(command + b"\r\nNOOP\r\n")
    assert client.reply() == (501, b"5.5.4 Syntax: BDAT <size> [LAST]")
    assert client.at_eof()


def test_replies_keep_their_order_under_delay_and_hold(sink_client):
    sink, client = sink_client(chunking=True, delay=0.01, hold=True)
    client.send(
        envelope_group(["a@example.com", "b@example.com"]) + bdat(b"1234") + bdat(b"56", last=True) + b"NOOP\r\n"
    )
    # The held MAIL/RCPT replies come as one block before the first BDAT's reply.
    assert client.reply() == (250, b"2.1.0 Ok")
    assert [client.reply() for _ in range(5)] == [
        (250, b"2.1.5 Ok"), (250, b"2.1.5 Ok"), (250, b"2.0.0 4 octets received"),
        (250, b"2.0.0 Ok: queued as 1"), (250, b"2.0.0 Ok"),
    ]
    assert sink.stats.bodies == [b"123456"]


def test_chunked_messages_through_the_turn_counter_take_one_turn(sink_client):
    sink = Sink(chunking=True).__enter__()
    try:
        with TurnCounter("127.0.0.1", sink.port) as turns:
            client = RawSMTP(turns.host, turns.port)
            client.login("bench@example.com", "made-up-password")
            client.send(b"".join(envelope_group(["a@example.com"]) + bdat(b"m\r\n", last=True) for _ in range(10)))
            assert [code for code, _ in client.replies(30)] == [250] * 30
            client.close()
            [session] = turns.wait_closed(1)
    finally:
        sink.__exit__(None, None, None)
    assert session.turns == 4  # connect, EHLO, AUTH, the ten messages
    assert sink.stats.messages == 10
