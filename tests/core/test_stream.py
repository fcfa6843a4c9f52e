"""The pipelined stream without I/O: what it writes, in which groups, and what it reports for every
reply a relay can give at every point (the same generator both mailers drive over real sockets;
tests/core/test_pipelining_faults.py drives it against the fake relay)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from acumbamail_smtp import ConnectionFailed, PermanentError, SendResult, TransientError
from acumbamail_smtp.message import PreparedMessage
from acumbamail_smtp.message.prepare import prepare_raw
from acumbamail_smtp.result import Reply
from acumbamail_smtp.smtp.stream import PULL, Lost, Outcome, stream

OFFERS = {"pipelining", "chunking", "size"}

OK = Reply(250, "2.0.0 Ok")
GO = Reply(354, "End data with <CR><LF>.<CR><LF>")
QUEUED = Reply(250, "2.0.0 Ok: queued as Q")
DROP = "drop"


def message(i: int, recipients: int = 1) -> PreparedMessage:
    rcpts = [f"user{i}-{r}@example.org" for r in range(recipients)]
    body = f"Subject: {i}\r\nMessage-ID: <m{i}@example.com>\r\n\r\nbody {i}\r\n.dot line\r\n".encode()
    return prepare_raw(body, "sender@example.com", rcpts, message_id=f"<m{i}@example.com>")


class Play:
    """Drives a stream like a driver would, answering reads from a script of replies (or DROP,
    which throws :class:`Lost` as a driver does when the connection fails)."""

    def __init__(self, messages: list[PreparedMessage], replies: list[Reply | str], *,
                 chunking: bool = False, window: int = 1) -> None:
        self.writes: list[bytes] = []
        self.outcomes: dict[str, SendResult | Exception | None] = {}
        self.order: list[str] = []
        steps = stream(OFFERS.__contains__, chunking=chunking, window=window)
        source: Iterator[PreparedMessage] = iter(messages)
        script = iter(replies)
        answer: object = None
        fault: Lost | None = None
        while True:
            try:
                step = steps.send(answer) if fault is None else steps.throw(fault)  # type: ignore[arg-type]
            except StopIteration as stop:
                self.usable = stop.value
                break
            answer, fault = None, None
            if step is PULL:
                answer = next(source, None)
            elif isinstance(step, Outcome):
                key = step.prepared.message_id
                assert key not in self.outcomes, f"{key} reported twice"
                self.outcomes[key] = step.outcome
                self.order.append(key)
            elif step is None:
                reply = next(script)
                if reply == DROP:
                    fault = Lost(ConnectionFailed("connection to the relay dropped: reset"))
                else:
                    answer = reply
            else:
                self.writes.append(step)
        self.leftover = list(script)

    def of(self, i: int) -> SendResult | Exception | None:
        return self.outcomes[f"<m{i}@example.com>"]


def envelope(i: int) -> list[Reply]:
    return [OK, OK, GO]  # MAIL, one RCPT, DATA


def test_one_round_trip_per_message_with_the_next_envelope_behind_the_data() -> None:
    play = Play([message(0), message(1), message(2)],
                [*envelope(0), QUEUED, *envelope(1), QUEUED, *envelope(2), QUEUED])
    assert len(play.writes) == 4  # env0 | data0+env1 | data1+env2 | data2
    assert play.writes[0].startswith(b"MAIL FROM:<sender@example.com>") and play.writes[0].endswith(b"DATA\r\n")
    assert play.writes[1].startswith(b"Subject: 0") and b"\r\n.\r\nMAIL FROM:" in play.writes[1]
    assert b"\r\n..dot line\r\n" in play.writes[1]  # dot-stuffed
    assert play.writes[3].endswith(b"\r\n.\r\n") and b"MAIL" not in play.writes[3]
    assert all(isinstance(play.of(i), SendResult) and play.of(i).status == "sent" for i in range(3))
    assert play.usable is True and play.leftover == []


def test_refused_end_of_data_fails_that_message_and_the_next_goes_on() -> None:
    play = Play([message(0), message(1)], [*envelope(0), Reply(554, "5.7.1 spam"), *envelope(1), QUEUED])
    assert isinstance(play.of(0), PermanentError) and play.of(0).code == 554
    assert isinstance(play.of(1), SendResult) and play.of(1).status == "sent"
    assert not any(w.startswith(b"RSET") for w in play.writes)  # the transaction ended with the reply


def test_deferred_end_of_data_is_transient() -> None:
    play = Play([message(0), message(1)], [*envelope(0), Reply(451, "4.3.0 later"), *envelope(1), QUEUED])
    assert isinstance(play.of(0), TransientError)
    assert isinstance(play.of(1), SendResult)


def test_next_message_with_every_recipient_refused_is_reported_and_reset_rides_with_the_one_after() -> None:
    refused = Reply(550, "5.1.1 no such user")
    play = Play([message(0), message(1), message(2)],
                [*envelope(0), QUEUED, OK, refused, Reply(554, "5.5.1 no valid recipients"),
                 OK, *envelope(2), QUEUED])  # RSET's reply, then message 2
    result = play.of(1)
    assert isinstance(result, SendResult) and result.status == "refused"
    assert list(result.refused.values()) == [refused]
    assert play.writes[2].startswith(b"RSET\r\nMAIL FROM:")  # one write: RSET + the next envelope
    assert isinstance(play.of(2), SendResult) and play.of(2).status == "sent"
    assert play.leftover == []


def test_some_recipients_refused_is_partial() -> None:
    play = Play([message(0, recipients=2)], [OK, OK, Reply(550, "5.1.1 unknown"), GO, QUEUED])
    result = play.of(0)
    assert isinstance(result, SendResult) and result.status == "partially_refused"
    assert len(result.accepted) == 1 and len(result.refused) == 1


def test_refused_mail_from_in_flight_reads_every_reply_and_resets() -> None:
    bad = Reply(553, "5.7.1 sender not allowed")
    play = Play([message(0), message(1), message(2)],
                [*envelope(0), QUEUED, bad, Reply(503, "5.5.1 need MAIL"), Reply(503, "5.5.1 need MAIL"),
                 OK, *envelope(2), QUEUED])
    assert isinstance(play.of(1), PermanentError) and play.of(1).code == 553
    assert isinstance(play.of(2), SendResult) and play.leftover == []


def test_data_taken_with_no_recipient_sends_only_the_dot() -> None:
    play = Play([message(0)], [OK, Reply(550, "5.1.1 unknown"), GO, Reply(554, "no recipients")])
    assert play.writes[-1] == b".\r\n"
    assert isinstance(play.of(0), SendResult) and play.of(0).status == "refused"


def test_connection_lost_after_data_with_the_next_in_flight() -> None:
    play = Play([message(0), message(1), message(2)], [*envelope(0), DROP])
    lost = play.of(0)
    assert isinstance(lost, ConnectionFailed) and lost.ambiguous  # its data was written: in doubt
    assert play.of(1) is None  # only its envelope went out: not tried, send it again
    assert f"<m{2}@example.com>" not in play.outcomes  # never pulled
    assert play.usable is False


def test_connection_lost_before_any_data_leaves_nothing_in_doubt() -> None:
    play = Play([message(0), message(1)], [OK, DROP])
    lost = play.of(0)  # the first in flight is charged (a try spent, retryable), nothing is in doubt
    assert isinstance(lost, ConnectionFailed) and not lost.ambiguous and lost.retryable
    assert "<m1@example.com>" not in play.outcomes and play.usable is False


def test_closing_reply_to_reset_charges_the_message_in_flight() -> None:
    play = Play([message(0), message(1)],
                [OK, Reply(550, "5.1.1 unknown"), Reply(554, "no recipients"), Reply(421, "4.3.2 bye")])
    assert isinstance(play.of(0), SendResult) and play.of(0).status == "refused"
    assert isinstance(play.of(1), TransientError) and play.of(1).code == 421


def test_closing_reply_to_end_of_data_fails_that_message_and_the_next_is_not_tried() -> None:
    play = Play([message(0), message(1)], [*envelope(0), Reply(421, "4.3.2 shutting down")])
    assert isinstance(play.of(0), TransientError) and play.of(0).code == 421
    assert play.of(1) is None and play.usable is False


def test_closing_reply_to_the_next_envelope_leaves_the_sent_one_sent() -> None:
    play = Play([message(0), message(1)], [*envelope(0), QUEUED, Reply(421, "4.3.2 bye")])
    assert isinstance(play.of(0), SendResult)
    assert isinstance(play.of(1), TransientError) and play.usable is False


def test_unsendable_message_is_refused_before_anything_is_written() -> None:
    bad = prepare_raw(b"Subject: x\r\n\r\nx\r\n", "sender@example.com", ["user@example.org"], message_id="<bad>")
    object.__setattr__(bad, "envelope_from", "evil@example.com>\r\nRCPT TO:<victim@example.org")
    play = Play([bad, message(1)], [*envelope(1), QUEUED])
    assert isinstance(play.outcomes["<bad>"], PermanentError)
    assert not any(b"victim" in w for w in play.writes)
    assert isinstance(play.of(1), SendResult)


# -- CHUNKING ---------------------------------------------------------------------------------------


def chunked(i: int) -> list[Reply]:
    return [OK, OK, QUEUED]  # MAIL, RCPT, BDAT LAST


def test_chunking_writes_a_window_of_whole_transactions_at_once() -> None:
    messages = [message(i) for i in range(5)]
    play = Play(messages, [r for i in range(5) for r in chunked(i)], chunking=True, window=3)
    first = play.writes[0]
    assert first.count(b"MAIL FROM:") == 3 and first.count(b" LAST\r\n") == 3
    assert b"\r\n.dot line\r\n" in first and b"..dot" not in first  # BDAT: no dot-stuffing
    size = len(b"Subject: 0\r\nMessage-ID: <m0@example.com>\r\n\r\nbody 0\r\n.dot line\r\n")
    assert f"BDAT {size} LAST\r\n".encode() in first
    assert all(isinstance(play.of(i), SendResult) and play.of(i).status == "sent" for i in range(5))
    assert play.order == [f"<m{i}@example.com>" for i in range(5)]
    assert play.usable is True


def test_chunked_refusal_fails_that_message_and_resyncs_before_more_mail() -> None:
    messages = [message(i) for i in range(4)]
    nested = Reply(503, "5.5.1 Error: nested MAIL command")
    replies = [*chunked(0),  # 0 and 1 in the first write; 2 written as soon as 0's replies are in
               OK, OK, Reply(554, "5.7.1 rejected"),  # message 1 refused at BDAT LAST
               nested, Reply(503, "5.5.1 Error: need MAIL"), Reply(503, "5.5.1 need MAIL"),  # 2: in flight
               OK,  # RSET, written with message 3
               *chunked(3)]
    play = Play(messages, replies, chunking=True, window=2)
    assert isinstance(play.of(1), PermanentError) and play.of(1).code == 554
    # Message 2 was refused only because message 1's transaction was still open: not tried, no try spent.
    assert play.outcomes["<m2@example.com>"] is None
    assert play.writes[-1].startswith(b"RSET\r\nMAIL FROM:<sender@example.com>")
    assert isinstance(play.of(0), SendResult) and isinstance(play.of(3), SendResult)
    assert play.leftover == [] and play.usable is True


def test_chunked_message_taken_into_a_still_open_transaction_is_not_sent_twice() -> None:
    messages = [message(0), message(1)]
    replies = [OK, Reply(550, "5.1.1 unknown"), Reply(554, "5.5.1 no valid recipients"),
               Reply(503, "5.5.1 nested MAIL"), OK, QUEUED,  # message 1 went into the open transaction
               OK]  # the RSET at the end
    play = Play(messages, replies, chunking=True, window=2)
    assert isinstance(play.of(0), SendResult) and play.of(0).status == "refused"
    taken = play.of(1)
    assert isinstance(taken, SendResult) and taken.status == "sent"  # reported sent, never resent
    assert play.writes[-1] == b"RSET\r\n" and play.leftover == []


def test_chunked_connection_lost_puts_the_whole_window_in_doubt_and_nothing_else() -> None:
    messages = [message(i) for i in range(5)]
    play = Play(messages, [*chunked(0), DROP], chunking=True, window=3)
    assert isinstance(play.of(0), SendResult)
    for i in (1, 2, 3):  # written before the drop (1, 2 in the first write; 3 after 0's reply)
        assert isinstance(play.of(i), ConnectionFailed) and play.of(i).ambiguous
    assert "<m4@example.com>" not in play.outcomes
    assert play.usable is False


def test_chunked_closing_reply_fails_its_message_and_frees_the_rest() -> None:
    messages = [message(i) for i in range(3)]
    play = Play(messages, [OK, OK, Reply(421, "4.3.2 bye")], chunking=True, window=3)
    assert isinstance(play.of(0), TransientError)
    assert play.of(1) is None and play.of(2) is None and play.usable is False


@pytest.mark.parametrize("window", [1, 2, 8])
def test_chunked_mixed_outcomes_each_reported_once_in_order(window: int) -> None:
    messages = [message(i, recipients=2) for i in range(6)]
    refused = Reply(550, "5.1.1 unknown")
    replies: list[Reply | str] = []
    for i in range(6):
        replies += [OK, OK, refused if i % 2 else OK, QUEUED]
    play = Play(messages, replies, chunking=True, window=window)
    assert play.order == [f"<m{i}@example.com>" for i in range(6)]
    assert [play.of(i).status for i in range(6)] == ["sent", "partially_refused"] * 3  # type: ignore[union-attr]
