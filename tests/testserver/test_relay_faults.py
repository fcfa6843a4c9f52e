"""Faults a test scripts into the fake relay happen exactly when asked, then clear."""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from tests.testserver.relay_helpers import build_message, send


def test_refuse_recipient_is_case_insensitive_and_keeps_the_others(acumbamail_relay, connect):
    relay = acumbamail_relay
    relay.refuse_recipient("Gone@Example.com")
    relay.refuse_recipient("full@example.com", code=552, text="5.2.2 mailbox full")
    client = connect(relay)
    assert client.mail("sender@example.com")[0] == 250
    assert client.rcpt("gone@EXAMPLE.com") == (550, b"5.1.1 mailbox unavailable")
    assert client.rcpt("full@example.com") == (552, b"5.2.2 mailbox full")
    assert client.rcpt("ok@example.com")[0] == 250
    assert client.data(build_message())[0] == 250
    assert relay.wait_for(1)[0].rcpt_tos == ["ok@example.com"]


def test_hard_and_soft_bounce_at_rcpt(acumbamail_relay, connect):
    relay = acumbamail_relay
    relay.hard_bounce("hard@example.com")
    relay.soft_bounce("soft@example.com")
    client = connect(relay)
    client.mail("sender@example.com")
    code, reply = client.rcpt("hard@example.com")
    assert code == 550
    assert reply.startswith(b"5.1.1")
    code, reply = client.rcpt("soft@example.com")
    assert code == 451
    assert reply.startswith(b"4.2.0")


def test_smtplib_sendmail_reports_refused_recipients(acumbamail_relay, connect):
    acumbamail_relay.hard_bounce("hard@example.com")
    client = connect(acumbamail_relay)
    refused = client.sendmail("sender@example.com", ["hard@example.com", "ok@example.com"], build_message())
    assert refused == {"hard@example.com": (550, b"5.1.1 mailbox unavailable")}


def test_async_hard_bounce_accepts_at_rcpt(acumbamail_relay, connect):
    acumbamail_relay.hard_bounce("later@example.com", at="async")
    client = connect(acumbamail_relay)
    assert send(client, build_message(), ["later@example.com"])[0] == 250
    assert acumbamail_relay.wait_for(1)[0].rcpt_tos == ["later@example.com"]


def test_close_after_answers_421_once_then_a_new_connection_works(acumbamail_relay, connect):
    relay = acumbamail_relay
    client = connect(relay)
    relay.close_after(1)
    assert send(client, build_message("first"), ["a@example.com"])[0] == 250
    code, reply = client.mail("sender@example.com")
    assert code == 421
    assert reply.startswith(b"4.3.0 ")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.rcpt("a@example.com")
    client = connect(relay)
    assert send(client, build_message("second"), ["a@example.com"])[0] == 250
    assert [m.subject for m in relay.wait_for(2)] == ["first", "second"]


def test_close_after_zero_fires_on_the_next_mail(acumbamail_relay, connect):
    client = connect(acumbamail_relay)
    acumbamail_relay.close_after(0, code=554)
    assert client.mail("sender@example.com")[0] == 554


def test_close_after_counts_messages_from_the_call(acumbamail_relay, connect):
    relay = acumbamail_relay
    client = connect(relay)
    send(client, build_message("before"), ["a@example.com"])
    relay.close_after(2)
    send(client, build_message("one"), ["a@example.com"])
    send(client, build_message("two"), ["a@example.com"])
    assert client.mail("sender@example.com")[0] == 421
    assert len(relay.messages) == 3


def test_close_after_also_closes_an_implicit_tls_connection(acumbamail_relay, connect):
    client = connect(acumbamail_relay, tls="implicit")
    acumbamail_relay.close_after(0)
    assert client.mail("sender@example.com")[0] == 421
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.noop()


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_drop_after_closes_without_a_reply_and_stores_nothing(acumbamail_relay, connect, tls):
    relay = acumbamail_relay
    client = connect(relay, tls=tls)
    relay.drop_after(1)
    assert send(client, build_message("kept"), ["a@example.com"])[0] == 250
    with pytest.raises(smtplib.SMTPServerDisconnected):
        client.mail("sender@example.com")
    assert [m.subject for m in relay.messages] == ["kept"]
    client = connect(relay, tls=tls)
    assert send(client, build_message("after"), ["a@example.com"])[0] == 250
    assert len(relay.wait_for(2)) == 2


def test_fail_next_data_refuses_that_many_times(acumbamail_relay, connect):
    relay = acumbamail_relay
    relay.fail_next_data(times=2)
    client = connect(relay)
    first = send(client, build_message(), ["a@example.com"])
    assert first[0] == 451
    assert first[1].startswith(b"4.3.0")
    assert send(client, build_message(), ["a@example.com"])[0] == 451
    assert relay.messages == []
    assert send(client, build_message(), ["a@example.com"])[0] == 250
    assert len(relay.messages) == 1


def test_fail_next_data_with_a_permanent_code(acumbamail_relay, connect):
    acumbamail_relay.fail_next_data(code=554, text="5.7.1 rejected as spam")
    client = connect(acumbamail_relay)
    assert send(client, build_message(), ["a@example.com"]) == (554, b"5.7.1 rejected as spam")


def test_fail_auth_refuses_good_credentials(acumbamail_relay, connect):
    acumbamail_relay.fail_auth(True)
    with pytest.raises(smtplib.SMTPAuthenticationError) as info:
        connect(acumbamail_relay)
    assert info.value.smtp_code == 535
    acumbamail_relay.fail_auth(False)
    connect(acumbamail_relay)


def test_delayed_replies_outlast_a_short_client_timeout(acumbamail_relay, connect):
    relay = acumbamail_relay
    client = connect(relay)
    relay.delay_replies(5)
    client.sock.settimeout(0.05)
    with pytest.raises((TimeoutError, socket.timeout, smtplib.SMTPServerDisconnected)):
        client.mail("sender@example.com")
    relay.reset_faults()
    client = connect(relay)
    assert send(client, build_message(), ["a@example.com"])[0] == 250


def test_reply_delay_option_applies_from_the_start(acumbamail_relay_factory):
    relay = acumbamail_relay_factory(reply_delay=5)
    context = ssl.create_default_context(cafile=relay.ca_file)
    with smtplib.SMTP_SSL(relay.host, relay.tls_port, context=context, timeout=10) as client:
        client.login(relay.username, relay.password)
        client.sock.settimeout(0.05)
        with pytest.raises((TimeoutError, socket.timeout, smtplib.SMTPServerDisconnected)):
            client.mail("sender@example.com")


def test_reset_faults_clears_everything(acumbamail_relay, connect):
    relay = acumbamail_relay
    relay.refuse_recipient("a@example.com")
    relay.close_after(0)
    relay.fail_next_data()
    relay.fail_auth()
    relay.delay_replies(3)
    relay.reset_faults()
    client = connect(relay)
    assert send(client, build_message(), ["a@example.com"])[0] == 250
    assert relay.wait_for(1)[0].rcpt_tos == ["a@example.com"]


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("refuse_recipient", ("a@example.com", 250)),
        ("refuse_recipient", ("not-an-address",)),
        ("refuse_recipient", ("a@example.com", 550, "two\r\nlines")),
        ("hard_bounce", ("a@example.com", "later")),
        ("close_after", (-1,)),
        ("drop_after", ("1",)),
        ("fail_next_data", (200,)),
        ("fail_next_data", (451, "4.3.0 x", 0)),
        ("delay_replies", (-0.5,)),
    ],
)
def test_bad_fault_arguments_raise_value_error(acumbamail_relay, method, args):
    with pytest.raises(ValueError):
        getattr(acumbamail_relay, method)(*args)
