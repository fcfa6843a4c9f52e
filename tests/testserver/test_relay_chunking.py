"""CHUNKING (RFC 3030) in the fake relay: BDAT over a raw socket, pipelined, out of sequence, and
accepted exactly as the end of DATA accepts."""

from __future__ import annotations

import re
import signal
import smtplib
import subprocess
import sys

import pytest

from tests.testserver.relay_helpers import bdat, build_message, envelope_group, queue_id_of, send
from tests.testserver.test_relay_plugin_cli import read_banner

CHUNKING = pytest.mark.acumbamail_relay(chunking=True, starttls=False)

QUEUED = re.compile(rb"^2\.0\.0 Ok: queued as [0-9A-F]{12}$")


def queued(reply: tuple[int, bytes]) -> str:
    code, text = reply
    assert code == 250 and QUEUED.match(text), reply
    return queue_id_of(text)


@CHUNKING
def test_ehlo_announces_chunking_next_to_pipelining(acumbamail_relay, raw):
    client = raw(acumbamail_relay, login=False)
    code, text = client.command(b"EHLO client.example.com")
    assert code == 250
    assert text.split(b"\n")[1:] == [
        b"SIZE 10485760", b"8BITMIME", b"SMTPUTF8", b"AUTH LOGIN PLAIN", b"PIPELINING", b"CHUNKING", b"HELP"
    ]


@pytest.mark.acumbamail_relay(starttls=False)
def test_without_chunking_bdat_is_an_unknown_command(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    assert b"CHUNKING" not in client.command(b"EHLO client.example.com")[1]
    client.send(envelope_group(["a@example.com"]) + b"BDAT 4 LAST\r\n")
    assert [code for code, _ in client.replies(3)] == [250, 250, 500]
    assert client.command(b"NOOP")[0] == 250
    assert acumbamail_relay.messages == []


@CHUNKING
def test_one_last_chunk_is_a_message(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    data = build_message("chunked")
    assert client.command(b"MAIL FROM:<sender@example.com>")[0] == 250
    assert client.command(b"RCPT TO:<rcpt@example.com>")[0] == 250
    client.send(bdat(data, last=True))
    queue_id = queued(client.reply())
    [message] = acumbamail_relay.wait_for(1)
    assert (message.id, message.data, message.subject) == (queue_id, data, "chunked")
    assert (message.mail_from, message.rcpt_tos) == ("sender@example.com", ["rcpt@example.com"])
    assert message.authenticated_as == acumbamail_relay.username


@CHUNKING
def test_several_chunks_are_joined_and_each_is_acknowledged(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    data = build_message("in three", body="x" * 3000)
    parts = [data[:1000], data[1000:1001], data[1001:]]
    client.send(envelope_group(["rcpt@example.com"]))
    assert [code for code, _ in client.replies(2)] == [250, 250]
    client.send(bdat(parts[0]))
    assert client.reply() == (250, b"2.0.0 1000 octets received")
    client.send(bdat(parts[1]) + bdat(parts[2], last=True))
    assert client.reply() == (250, b"2.0.0 1 octets received")
    queued(client.reply())
    assert acumbamail_relay.wait_for(1)[0].data == data


@CHUNKING
def test_an_empty_last_chunk_ends_the_message(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    data = build_message("empty last")
    client.send(envelope_group(["rcpt@example.com"]) + bdat(data) + bdat(b"", last=True))
    replies = client.replies(4)
    assert replies[2] == (250, b"2.0.0 %d octets received" % len(data))
    queued(replies[3])
    assert acumbamail_relay.wait_for(1)[0].data == data


@CHUNKING
def test_mail_rcpt_and_bdat_last_pipelined_in_one_write(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    data = build_message("pipelined")
    client.send(envelope_group(["a@example.com", "b@example.com"]) + bdat(data, last=True))
    replies = client.replies(4)
    assert replies[:3] == [(250, b"2.1.0 Ok"), (250, b"2.1.5 Ok"), (250, b"2.1.5 Ok")]
    queue_id = queued(replies[3])
    [message] = acumbamail_relay.wait_for(1)
    assert (message.id, message.rcpt_tos, message.data) == (queue_id, ["a@example.com", "b@example.com"], data)


@CHUNKING
def test_two_whole_messages_in_one_write(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    first, second = build_message("first"), build_message("second", to="two@example.com")
    client.send(
        envelope_group(["one@example.com"]) + bdat(first, last=True)
        + envelope_group(["two@example.com"], sender="other@example.com") + bdat(second, last=True)
        + b"QUIT\r\n"
    )
    replies = client.replies(7)
    ids = [queued(replies[2]), queued(replies[5])]
    assert replies[6][0] == 221
    messages = acumbamail_relay.wait_for(2)
    assert [(m.id, m.mail_from, m.rcpt_tos, m.data) for m in messages] == [
        (ids[0], "sender@example.com", ["one@example.com"], first),
        (ids[1], "other@example.com", ["two@example.com"], second),
    ]


@CHUNKING
def test_dot_lines_and_bare_line_ends_are_kept_byte_for_byte(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    data = (
        b"Subject: dots\r\n\r\n.\r\n..two dots\r\n.leading\r\n\r\n.\r\n"
        b"bare\nline feed\rand CR\r\nno end of line"
    )
    client.send(envelope_group(["rcpt@example.com"]) + bdat(data[:17]) + bdat(data[17:], last=True))
    queued(client.replies(4)[3])
    assert acumbamail_relay.wait_for(1)[0].data == data


@CHUNKING
def test_records_and_events_are_those_of_data(acumbamail_relay, raw, connect):
    relay = acumbamail_relay
    relay.refuse_recipient("gone@example.com")
    relay.hard_bounce("later@example.com", at="async")
    data = build_message("same", category="receipts", body="dots\r\n.\r\n..and more")
    rcpts = ["ok@example.com", "gone@example.com", "later@example.com"]

    smtp_client = connect(relay, tls=None)
    _, reply = send(smtp_client, data, rcpts)
    data_id = queue_id_of(reply)

    client = raw(relay)
    client.send(envelope_group(rcpts) + bdat(data[:10]) + bdat(data[10:], last=True))
    replies = client.replies(6)
    assert [code for code, _ in replies[:4]] == [250, 250, 550, 250]
    bdat_id = queued(replies[5])

    by_data, by_bdat = relay.wait_for(2)

    def comparable(message):
        summary = message.summary()
        del summary["id"], summary["received_at"]
        return summary, message.data, message.headers

    assert comparable(by_data) == comparable(by_bdat)
    assert by_bdat.category == "receipts"

    def events_of(queue_id):
        return sorted((e["event"], e["email"]) for e in relay.events if e["email_key"] == queue_id)

    assert events_of(data_id) == events_of(bdat_id) == [
        ("delivered", "ok@example.com"), ("hard_bounces", "gone@example.com"),
        ("hard_bounces", "later@example.com"),
    ]


@CHUNKING
def test_bdat_without_mail_or_accepted_rcpt_is_503_and_its_octets_are_consumed(acumbamail_relay, raw):
    relay = acumbamail_relay
    relay.refuse_recipient("gone@example.com")
    client = raw(relay)
    # The chunk looks like commands: read as commands, they would get replies of their own.
    client.send(bdat(b"NOOP\r\nNOOP\r\n") + bdat(b"RSET\r\n", last=True))
    assert client.replies(2) == [(503, b"5.5.1 Error: need MAIL command")] * 2
    client.send(b"MAIL FROM:<sender@example.com>\r\nRCPT TO:<gone@example.com>\r\n" + bdat(b"NOOP\r\n", last=True))
    assert client.replies(3)[2] == (503, b"5.5.1 Error: need RCPT command")
    assert client.command(b"NOOP") == (250, b"OK")
    assert relay.messages == []


@pytest.mark.acumbamail_relay(chunking=True, starttls=False, size_limit=100)
def test_after_a_failed_chunk_the_rest_are_503_up_to_last_which_resets(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    client.send(envelope_group(["rcpt@example.com"]) + bdat(b"a" * 60) + bdat(b"b" * 60) + bdat(b"c", last=True))
    assert client.replies(5)[2:] == [
        (250, b"2.0.0 60 octets received"),
        (552, b"5.3.4 Error: Too much mail data"),
        (503, b"5.5.1 Error: an earlier chunk of this message failed"),
    ]
    # LAST ended the failed transaction: a new one starts without RSET.
    client.send(envelope_group(["rcpt@example.com"]) + bdat(b"x" * 100, last=True))
    replies = client.replies(3)
    assert replies[0] == (250, b"2.1.0 Ok")
    queued(replies[2])
    assert [m.data for m in acumbamail_relay.wait_for(1)] == [b"x" * 100]


@CHUNKING
@pytest.mark.parametrize("argument", [b"", b" x", b" -1", b" 10 NOTLAST", b" 10 LAST MORE", b" 1e3", b" \xd9\xa3"])
def test_a_bad_size_is_501_and_closes_the_connection(acumbamail_relay, raw, argument):
    client = raw(acumbamail_relay)
    client.send(envelope_group(["rcpt@example.com"]) + b"BDAT" + argument + b"\r\nNOOP\r\n")
    assert client.replies(3)[2] == (501, b"5.5.4 Syntax: BDAT <size> [LAST]")
    assert client.at_eof()
    assert acumbamail_relay.messages == []


@CHUNKING
def test_data_in_a_bdat_transaction_is_503(acumbamail_relay, raw):
    client = raw(acumbamail_relay)
    client.send(envelope_group(["rcpt@example.com"]) + bdat(b"Subject: a\r\n") + b"DATA\r\n")
    replies = client.replies(4)
    assert replies[3] == (503, b"5.5.1 Error: DATA not allowed in a BDAT transaction")
    # RSET clears the transaction and its chunks.
    assert client.command(b"RSET")[0] == 250
    data = build_message("after RSET")
    client.send(envelope_group(["rcpt@example.com"]) + bdat(data, last=True))
    queued(client.replies(3)[2])
    assert [m.data for m in acumbamail_relay.wait_for(1)] == [data]


@CHUNKING
def test_the_transaction_is_reset_after_last_accepted_or_refused(acumbamail_relay, raw):
    relay = acumbamail_relay
    client = raw(relay)
    client.send(envelope_group(["rcpt@example.com"]) + bdat(build_message(), last=True) + b"RCPT TO:<x@example.com>\r\n")
    assert client.replies(4)[3] == (503, b"Error: need MAIL command")
    relay.fail_next_data(451, "4.3.0 Try later")
    client.send(envelope_group(["rcpt@example.com"]) + bdat(build_message(), last=True) + bdat(b"x", last=True))
    assert client.replies(4)[2:] == [(451, b"4.3.0 Try later"), (503, b"5.5.1 Error: need MAIL command")]
    assert len(relay.messages) == 1


@pytest.mark.acumbamail_relay(chunking=True)
def test_bdat_over_implicit_tls(acumbamail_relay, raw):
    client = raw(acumbamail_relay, tls="implicit")
    data = build_message("over TLS")
    client.send(envelope_group(["rcpt@example.com"]) + bdat(data[:5]) + bdat(data[5:], last=True))
    queued(client.replies(4)[3])
    [message] = acumbamail_relay.wait_for(1)
    assert (message.data, message.tls) == (data, True)


def test_marker_and_factory_give_a_chunking_relay(acumbamail_relay_factory):
    relay = acumbamail_relay_factory(chunking=True)
    with smtplib.SMTP(relay.host, relay.port, timeout=10) as client:
        client.ehlo("client.example.com")
        assert client.has_extn("chunking")
    assert acumbamail_relay_factory().chunking is False


def test_cli_testserver_chunking_flag():
    process = subprocess.Popen(
        [sys.executable, "-m", "acumbamail_smtp", "testserver", "--chunking"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        banner = read_banner(process)
        assert re.search(r"chunking:\s+on", banner)
        port = int(re.search(r"smtp port:\s+(\d+)", banner).group(1))
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.ehlo("client.example.com")
            assert client.has_extn("chunking") and client.has_extn("pipelining")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
