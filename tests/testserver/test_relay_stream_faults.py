"""``FakeRelay.fault_at``: a fault at any point of a pipelined or chunked stream strikes exactly
the nth time that point is reached, acts as scripted, and leaves the server's state as a real
server's would be."""

from __future__ import annotations

import threading

import pytest
from acumbamail_smtp.testserver.faults import StreamFault

from tests.testserver.relay_helpers import bdat, build_message, envelope_group, queue_id_of

RELAY = pytest.mark.acumbamail_relay(chunking=True, starttls=False)
pytestmark = RELAY

DATA_END = b"\r\n.\r\n"


def message(subject: str) -> bytes:
    """A message whose data ends with CRLF, so a dot line can follow it directly."""
    return build_message(subject)


def upto(client, n: int) -> list[tuple[int, bytes]]:
    """Up to ``n`` replies, fewer if the server closes the connection first."""
    replies = []
    for _ in range(n):
        try:
            replies.append(client.reply())
        except ConnectionError:
            break
    return replies


def data_stream(client, subject: str, rcpts=("rcpt@example.com",)) -> list[tuple[int, bytes]]:
    """MAIL+RCPTs+DATA pipelined, then the body once 354 came; the replies until the last or a close."""
    client.send(envelope_group(list(rcpts)) + b"DATA\r\n")
    replies = upto(client, len(rcpts) + 2)
    if replies and replies[-1][0] == 354:
        client.send(message(subject) + b".\r\n")
        replies += upto(client, 1)
    return replies


def bdat_stream(client, subject: str, rcpts=("rcpt@example.com",)) -> list[tuple[int, bytes]]:
    """MAIL+RCPTs+BDAT LAST in one write; the replies until the last or a close."""
    client.send(envelope_group(list(rcpts)) + bdat(message(subject), last=True))
    return upto(client, len(rcpts) + 2)


def codes(replies):
    return [code for code, _ in replies]


# The replies each stream gets before a fault at each point: what arrives before a drop.
BEFORE = [
    ("mail", bdat_stream, []),
    ("rcpt", bdat_stream, [250]),
    ("data", data_stream, [250, 250]),
    ("data_end", data_stream, [250, 250, 354]),
    ("bdat_last", bdat_stream, [250, 250]),
]


# refuse


@pytest.mark.parametrize("code", [451, 550])
def test_refused_mail_begins_no_transaction(acumbamail_relay, raw, code):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("mail", "refuse", code=code, text=f"{code // 100}.7.1 Not now")
    client.send(envelope_group(["rcpt@example.com"]) + bdat(b"ignored", last=True))
    assert client.replies(3) == [
        (code, f"{code // 100}.7.1 Not now".encode()),
        (503, b"Error: need MAIL command"),
        (503, b"5.5.1 Error: need MAIL command"),
    ]
    assert codes(bdat_stream(client, "after")) == [250, 250, 250]
    assert [m.subject for m in relay.wait_for(1)] == ["after"]


@pytest.mark.parametrize(("point", "stream", "before"), BEFORE)
def test_a_refusal_with_421_also_closes_the_connection(acumbamail_relay, raw, point, stream, before):
    client = raw(acumbamail_relay)
    acumbamail_relay.fault_at(point, "refuse", code=421, text="4.3.2 Shutting down")
    replies = stream(client, "closed")
    assert codes(replies) == [*before, 421]
    assert replies[-1] == (421, b"4.3.2 Shutting down")
    assert client.at_eof()
    assert acumbamail_relay.messages == []


def test_refused_rcpt_adds_no_recipient_and_no_event(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("rcpt", "refuse", code=452, text="4.5.3 Too many recipients", nth=2)
    replies = bdat_stream(client, "two of three", ["a@example.com", "b@example.com", "c@example.com"])
    assert replies[:4] == [
        (250, b"2.1.0 Ok"), (250, b"2.1.5 Ok"), (452, b"4.5.3 Too many recipients"), (250, b"2.1.5 Ok")
    ]
    [stored] = relay.wait_for(1)
    assert (stored.id, stored.rcpt_tos) == (queue_id_of(replies[4][1]), ["a@example.com", "c@example.com"])
    assert sorted(e["email"] for e in relay.events) == ["a@example.com", "c@example.com"]


def test_refused_data_keeps_the_transaction_until_rset(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("data", "refuse", code=554, text="5.5.1 No valid recipients")
    assert data_stream(client, "refused")[2] == (554, b"5.5.1 No valid recipients")
    assert client.command(b"MAIL FROM:<sender@example.com>") == (503, b"Error: nested MAIL command")
    assert client.command(b"RSET")[0] == 250
    assert codes(data_stream(client, "after RSET")) == [250, 250, 354, 250]
    assert [m.subject for m in relay.wait_for(1)] == ["after RSET"]


@pytest.mark.parametrize(("point", "stream"), [("data_end", data_stream), ("bdat_last", bdat_stream)])
def test_a_refused_message_end_stores_nothing_and_resets(acumbamail_relay, raw, point, stream):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at(point, "refuse", code=550, text="5.7.1 Message content rejected")
    assert stream(client, "refused")[-1] == (550, b"5.7.1 Message content rejected")
    assert stream(client, "accepted")[-1][0] == 250
    assert [m.subject for m in relay.wait_for(1)] == ["accepted"]
    assert len(relay.messages) == 1


def test_a_refused_chunk_fails_the_transaction_and_last_resets_it(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    client.send(envelope_group(["rcpt@example.com"]))
    client.replies(2)
    relay.fault_at("bdat", "refuse", code=452, text="4.3.1 Out of chunk space")
    client.send(bdat(b"one\r\n") + bdat(b"NOOP\r\n") + bdat(b"three\r\n", last=True))
    assert client.replies(3) == [
        (452, b"4.3.1 Out of chunk space"),
        (503, b"5.5.1 Error: an earlier chunk of this message failed"),
        (503, b"5.5.1 Error: an earlier chunk of this message failed"),
    ]
    assert codes(bdat_stream(client, "next")) == [250, 250, 250]
    assert [m.subject for m in relay.wait_for(1)] == ["next"]


def test_refuse_defaults_to_451_naming_the_point(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    acumbamail_relay.fault_at("rcpt", "refuse")
    acumbamail_relay.fault_at("bdat_last", "refuse", code=554)
    # The BDAT LAST arrives without an accepted RCPT, yet it is the next arrival: the fault wins.
    assert bdat_stream(client, "x") == [
        (250, b"2.1.0 Ok"),
        (451, b"4.3.0 Temporary failure at rcpt (scripted)"),
        (554, b"5.3.0 Permanent failure at bdat_last (scripted)"),
    ]
    assert bdat_stream(client, "y")[2][0] == 250


# drop


@pytest.mark.parametrize(("point", "stream", "before"), BEFORE)
def test_drop_closes_without_a_reply_and_stores_nothing(acumbamail_relay, raw, point, stream, before):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at(point, "drop")
    assert codes(stream(client, "dropped")) == before
    assert client.at_eof()
    assert relay.messages == []
    assert relay.pending_faults == []
    assert stream(raw(relay), "accepted")[-1][0] == 250
    assert [m.subject for m in relay.wait_for(1)] == ["accepted"]


def test_drop_at_the_second_rcpt_of_a_pipelined_group(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("rcpt", "drop", nth=2)
    client.send(envelope_group(["a@example.com", "b@example.com"]) + bdat(b"x", last=True))
    assert client.replies(2) == [(250, b"2.1.0 Ok"), (250, b"2.1.5 Ok")]
    assert client.at_eof()


def test_drop_at_a_chunk_stores_nothing(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("bdat", "drop", nth=2)
    client.send(envelope_group(["rcpt@example.com"]) + bdat(b"one") + bdat(b"two") + bdat(b"three", last=True))
    assert client.replies(3)[2] == (250, b"2.0.0 3 octets received")
    assert client.at_eof()
    assert relay.messages == []


# drop_after_accept


@pytest.mark.parametrize(("point", "stream"), [("data_end", data_stream), ("bdat_last", bdat_stream)])
def test_drop_after_accept_stores_the_message_and_never_answers(acumbamail_relay, raw, point, stream):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at(point, "drop_after_accept")
    assert codes(stream(client, "ambiguous")) == ([250, 250, 354] if point == "data_end" else [250, 250])
    assert client.at_eof()
    [stored] = relay.wait_for(1)
    assert (stored.subject, stored.data) == ("ambiguous", message("ambiguous"))
    assert [(e["event"], e["email_key"]) for e in relay.events] == [("delivered", stored.id)]


def test_drop_after_accept_in_a_pipelined_stream_keeps_only_the_first(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("bdat_last", "drop_after_accept")
    client.send(
        envelope_group(["one@example.com"]) + bdat(message("first"), last=True)
        + envelope_group(["two@example.com"]) + bdat(message("second"), last=True)
    )
    assert codes(client.replies(2)) == [250, 250]
    assert client.at_eof()
    assert [m.subject for m in relay.wait_for(1)] == ["first"]


# nth, several at once, reset


def test_nth_counts_arrivals_from_when_it_is_scripted(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    assert codes(bdat_stream(client, "before")) == [250, 250, 250]
    relay.fault_at("mail", "refuse", code=451, text="4.3.2 Busy", nth=2)
    assert codes(bdat_stream(client, "first after")) == [250, 250, 250]
    assert client.command(b"MAIL FROM:<sender@example.com>") == (451, b"4.3.2 Busy")
    assert codes(bdat_stream(client, "fires once")) == [250, 250, 250]
    assert [m.subject for m in relay.wait_for(3)] == ["before", "first after", "fires once"]


def test_the_count_spans_connections(acumbamail_relay, raw):
    relay = acumbamail_relay
    relay.fault_at("data_end", "refuse", code=451, text="4.3.0 Later", nth=2)
    assert data_stream(raw(relay), "one")[-1][0] == 250
    assert data_stream(raw(relay), "two")[-1] == (451, b"4.3.0 Later")
    assert [m.subject for m in relay.wait_for(1)] == ["one"]


def test_several_faults_in_one_pipelined_write(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("rcpt", "refuse", code=550, text="5.1.1 No such user", nth=2)
    relay.fault_at("bdat_last", "refuse", code=451, text="4.3.0 Later", nth=2)
    relay.fault_at("mail", "refuse", code=452, text="4.7.0 Slow down", nth=3)
    client.send(
        envelope_group(["a@example.com", "b@example.com"]) + bdat(message("first"), last=True)
        + envelope_group(["c@example.com"]) + bdat(message("second"), last=True)
        + envelope_group(["d@example.com"]) + bdat(message("third"), last=True)
    )
    replies = client.replies(10)
    assert codes(replies) == [250, 250, 550, 250, 250, 250, 451, 452, 503, 503]
    [first] = relay.wait_for(1)
    assert (first.subject, first.rcpt_tos) == ("first", ["a@example.com"])
    assert relay.pending_faults == []


def test_data_end_fault_comes_before_fail_next_data(acumbamail_relay, raw):
    relay = acumbamail_relay
    relay.fail_next_data(452, "4.3.1 Full")
    relay.fault_at("data_end", "refuse", code=554, text="5.6.0 Scripted")
    client = raw(relay)
    assert data_stream(client, "one")[-1] == (554, b"5.6.0 Scripted")
    assert data_stream(client, "two")[-1] == (452, b"4.3.1 Full")
    assert relay.messages == []


def test_reset_faults_clears_stream_faults(acumbamail_relay, raw):
    relay = acumbamail_relay
    relay.fault_at("mail", "drop")
    relay.fault_at("bdat_last", "drop_after_accept", nth=3)
    assert [(f.point, f.action) for f in relay.pending_faults] == [
        ("mail", "drop"), ("bdat_last", "drop_after_accept")
    ]
    relay.reset_faults()
    assert relay.pending_faults == []
    assert codes(bdat_stream(raw(relay), "clean")) == [250, 250, 250]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("helo", "refuse"), {}, "point must be one of"),
        (("mail", "explode"), {}, "action must be one of"),
        (("rcpt", "drop_after_accept"), {}, "needs a message end"),
        (("mail", "refuse"), {"code": 250}, "from 400 to 599"),
        (("mail", "refuse"), {"text": "two\r\nlines"}, "one non-empty line"),
        (("mail", "drop"), {"code": 421}, "for action='refuse' only"),
        (("mail", "drop"), {"nth": 0}, "nth must be"),
        (("mail", "drop"), {"nth": True}, "nth must be"),
    ],
)
def test_fault_at_checks_its_arguments(acumbamail_relay, args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        acumbamail_relay.fault_at(*args, **kwargs)
    assert acumbamail_relay.pending_faults == []


def test_one_occurrence_takes_one_fault(acumbamail_relay):
    relay = acumbamail_relay
    relay.fault_at("rcpt", "drop", nth=2)
    with pytest.raises(ValueError, match="already scripted"):
        relay.fault_at("rcpt", "refuse", nth=2)
    assert relay.fault_at("rcpt", "refuse", nth=1) == StreamFault(
        "rcpt", "refuse", "451 4.3.0 Temporary failure at rcpt (scripted)"
    )


def test_faults_scripted_from_many_threads_all_strike_once(acumbamail_relay, raw):
    relay = acumbamail_relay
    threads = [
        threading.Thread(target=relay.fault_at, args=("rcpt", "refuse"), kwargs={"code": 550, "nth": n})
        for n in range(1, 21)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(relay.pending_faults) == 20
    client = raw(relay)
    rcpts = [f"r{n}@example.com" for n in range(21)]
    client.send(envelope_group(rcpts))
    assert codes(client.replies(22)) == [250] + [550] * 20 + [250]


def pipelined_data_across_messages(client) -> list[tuple[int, bytes]]:
    """Message "first" by DATA, then its data, the dot and message "second"'s MAIL, RCPT and
    DATA in one write, as a client pipelining across transactions sends them."""
    client.send(envelope_group(["rcpt@example.com"]) + b"DATA\r\n")
    assert codes(client.replies(3)) == [250, 250, 354]
    client.send(message("first") + b".\r\n" + envelope_group(["rcpt@example.com"]) + b"DATA\r\n")
    return upto(client, 4)


def test_refused_end_of_data_inside_a_pipelined_write_lets_the_next_message_go_on(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("data_end", "refuse", code=451, text="4.3.0 Later")
    replies = pipelined_data_across_messages(client)
    assert replies[0] == (451, b"4.3.0 Later")
    assert codes(replies[1:]) == [250, 250, 354]
    client.send(message("second") + b".\r\n")
    assert client.reply()[0] == 250
    assert [m.subject for m in relay.wait_for(1)] == ["second"]


def test_drop_after_accept_inside_a_pipelined_write_stores_only_the_first(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    relay.fault_at("data_end", "drop_after_accept")
    assert pipelined_data_across_messages(client) == []
    assert client.at_eof()
    assert [m.subject for m in relay.wait_for(1)] == ["first"]
