"""Every message accepted exactly once, or reported: both mailers against the fake relay breaking a
pipelined (DATA) or chunked (BDAT) stream at every point, with every kind of answer.

The relay counts arrivals at each point on every connection (``fault_at(..., nth=3)`` strikes the
third message's MAIL, RCPT, ...), so the fault lands mid-stream, with the next message in flight.
The check is the same for every case: a message reported sent reached the relay once; a message
reported refused or failed did not reach it; only a message reported ``ambiguous`` (the connection
lost after its data, before the reply) may have, and it is never tried again.
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterator

import pytest
from acumbamail_smtp import AsyncMailer, ConnectionFailed, Mailer, Message, SendError, SendResult
from acumbamail_smtp.testserver import FakeRelay, TurnCounter

from .conftest import PASSWORD, USERNAME

COUNT = 8

POINTS_DATA = [
    ("mail", "refuse", 550), ("mail", "refuse", 451), ("mail", "refuse", 421), ("mail", "drop", None),
    ("rcpt", "refuse", 550), ("rcpt", "refuse", 451), ("rcpt", "refuse", 421), ("rcpt", "drop", None),
    ("data", "refuse", 554), ("data", "refuse", 451), ("data", "drop", None),
    ("data_end", "refuse", 554), ("data_end", "refuse", 451), ("data_end", "refuse", 421),
    ("data_end", "drop", None), ("data_end", "drop_after_accept", None),
]
POINTS_BDAT = [
    ("mail", "refuse", 550), ("mail", "refuse", 451), ("mail", "refuse", 421), ("mail", "drop", None),
    ("rcpt", "refuse", 550), ("rcpt", "refuse", 451), ("rcpt", "drop", None),
    ("bdat_last", "refuse", 554), ("bdat_last", "refuse", 451), ("bdat_last", "refuse", 421),
    ("bdat_last", "drop", None), ("bdat_last", "drop_after_accept", None),
]


CASES = [pytest.param(False, *case, id=f"data-{case[0]}-{case[1]}-{case[2]}") for case in POINTS_DATA] + [
    pytest.param(True, *case, id=f"bdat-{case[0]}-{case[1]}-{case[2]}") for case in POINTS_BDAT]


def relay_for(chunking: bool) -> FakeRelay:
    return FakeRelay(username=USERNAME, password=PASSWORD, chunking=chunking)


def messages() -> list[Message]:
    return [Message(from_email="sender@example.com", to=f"user{i}@example.org", subject=f"Message {i}",
                    text=f"Hello {i}\n.a dot line\n") for i in range(COUNT)]


def outcomes_of(run: object) -> list[SendResult | BaseException]:
    try:
        results = run() if callable(run) else run  # type: ignore[operator]
    except SendError as exc:
        results = exc.results
    assert results is not None and len(results) == COUNT
    return list(results)


def check_exactly_once_or_reported(relay: FakeRelay, sent: list[Message],
                                   outcomes: list[SendResult | BaseException]) -> collections.Counter[str]:
    counts = collections.Counter(m.message["Message-ID"] for m in relay.messages)
    ids = [m.send_result.message_id if m.send_result else None for m in sent]
    assert all(n == 1 for n in counts.values()), f"delivered twice: {counts}"
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, SendResult):
            expected = 1 if outcome.status in ("sent", "partially_refused") else 0
            assert counts[outcome.message_id] == expected, (i, outcome)
        elif isinstance(outcome, ConnectionFailed) and outcome.ambiguous:
            continue  # in doubt, reported as such, never tried twice (asserted above)
        else:
            # Failed or never tried: it must not be on the relay (found by its subject, no result to name it).
            assert not any(m.message["Subject"] == f"Message {i}" for m in relay.messages), (i, outcome)
    assert len(ids) == COUNT
    return counts


def scripted(relay: FakeRelay, point: str, action: str, code: int | None) -> None:
    relay.fault_at(point, action, code=code, nth=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(("chunking", "point", "action", "code"), CASES)
def test_sync_mailer_every_fault_point(chunking: bool, point: str, action: str, code: int | None) -> None:
    with relay_for(chunking) as relay:
        scripted(relay, point, action, code)
        sent = messages()
        with Mailer(relay.client_config(max_tries=3, retry_backoff=0)) as mailer:
            outcomes = outcomes_of(lambda: mailer.send_many(sent))
        counts = check_exactly_once_or_reported(relay, sent, outcomes)
        assert not relay.pending_faults, "the fault never struck"
        if code is not None and 400 <= code < 500:  # transient: retried, everyone gets through once
            assert sum(counts.values()) == COUNT and all(isinstance(o, SendResult) for o in outcomes)
        if action == "drop_after_accept":
            doubt = [o for o in outcomes if isinstance(o, ConnectionFailed)]
            assert len(doubt) >= 1 and all(o.ambiguous for o in doubt)
            assert sum(counts.values()) >= 3  # the two before and the one in doubt, which the relay has


@pytest.mark.parametrize(("chunking", "point", "action", "code"), CASES)
def test_async_mailer_every_fault_point(chunking: bool, point: str, action: str, code: int | None) -> None:

    async def send(relay: FakeRelay, sent: list[Message]) -> list[SendResult | BaseException]:
        async with AsyncMailer(relay.client_config(max_tries=3, retry_backoff=0), pool_size=2) as mailer:
            try:
                return list(await mailer.send_many(sent))
            except SendError as exc:
                return list(exc.results or [])

    with relay_for(chunking) as relay:
        scripted(relay, point, action, code)
        sent = messages()
        outcomes = asyncio.run(send(relay, sent))
        assert len(outcomes) == COUNT
        counts = check_exactly_once_or_reported(relay, sent, outcomes)
        assert not relay.pending_faults
        if code is not None and 400 <= code < 500:
            assert sum(counts.values()) == COUNT and all(isinstance(o, SendResult) for o in outcomes)


# -- round trips ------------------------------------------------------------------------------------


def turns_for(chunking: bool, count: int) -> Iterator[int]:
    with relay_for(chunking) as relay, TurnCounter(relay.host, relay.port, delay=0.01) as counter:
        config = relay.client_config(port=counter.port)
        for n in (1, count):
            with Mailer(config) as mailer:
                mailer.send_many(messages()[:n])
        counter.wait_closed(2, timeout=10)
        for session in counter.sessions:
            yield session.turns


def test_pipelining_costs_one_round_trip_per_message() -> None:
    one, eight = turns_for(False, COUNT)
    # Setup and QUIT are the same for both; each further message adds exactly one round trip.
    assert eight - one == COUNT - 1


def test_chunking_sends_a_window_of_messages_per_round_trip() -> None:
    one, eight = turns_for(True, COUNT)
    assert eight - one <= 1  # eight messages (window 8) in one write: at most one more wait


def test_round_trips_of_connection_setup_are_only_those_the_protocol_needs() -> None:
    # A delay makes the count a real link's: on bare loopback TLS 1.3's tickets can split a turn.
    with FakeRelay(username=USERNAME, password=PASSWORD) as relay, \
            TurnCounter(relay.host, relay.port, delay=0.05) as counter:
        with Mailer(relay.client_config(port=counter.port)) as mailer:
            mailer.send_many(messages()[:1])
        counter.wait_closed(1, timeout=10)
        session = counter.sessions[0]
    # banner, EHLO, STARTTLS, TLS handshake, EHLO, AUTH, MAIL+RCPT+DATA, data, QUIT
    assert session.turns == 9, [c[:40] for c in session.client]


def test_relay_that_drops_every_transaction_ends_the_batch_with_its_error() -> None:
    with relay_for(False) as relay:
        for n in range(1, 30):
            relay.fault_at("mail", "drop", nth=n)
        sent = messages()[:3]
        with Mailer(relay.client_config(max_tries=2, retry_backoff=0)) as mailer, \
                pytest.raises(ConnectionFailed) as info:
            mailer.send_many(sent)
        assert relay.messages == []
        results = info.value.results or []
        assert len(results) == 3 and isinstance(results[0], ConnectionFailed)
        assert all(not isinstance(r, SendResult) for r in results)


def test_send_each_reports_every_message_once_with_its_own_outcome() -> None:
    from acumbamail_smtp import PermanentError, RecipientsRefused, prepare

    for chunked in (False, True):
        with relay_for(chunked) as relay:
            relay.refuse_recipient("user2@example.org", 550, "5.1.1 no such user")
            relay.fault_at("bdat_last" if chunked else "data_end", "refuse", code=554, nth=4)
            relay.fault_at("bdat_last" if chunked else "data_end", "drop_after_accept", nth=6)
            mailer = Mailer(relay.client_config(max_tries=3, retry_backoff=0))
            items = [prepare(m, mailer.config) for m in messages()]
            with mailer:
                seen = list(mailer.send_each(items))
            assert sorted(id(p) for p, _ in seen) == sorted(id(p) for p in items)  # each once
            outcome = {p.message_id: o for p, o in seen}
            ids = [p.message_id for p in items]
            assert isinstance(outcome[ids[2]], RecipientsRefused)
            refused = [o for o in outcome.values() if isinstance(o, PermanentError)
                       and not isinstance(o, RecipientsRefused)]
            doubt = [o for o in outcome.values() if isinstance(o, ConnectionFailed)]
            assert len(refused) == 1 and refused[0].code == 554
            # reported, not tried again: one with DATA, up to the window written ahead with BDAT
            assert (1 <= len(doubt) <= 8 if chunked else len(doubt) == 1)
            assert all(o.ambiguous for o in doubt)
            counts = collections.Counter(m.message["Message-ID"] for m in relay.messages)
            assert max(counts.values()) == 1
            sent = {p.message_id for p, o in seen if isinstance(o, SendResult)}
            assert sent <= set(counts) and len(sent) == COUNT - 2 - len(doubt)
