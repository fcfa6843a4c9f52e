"""Sending through the fake relay over real SMTP: messages, results, connections, signals."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
from acumbamail_smtp import InvalidMessage, RecipientsRefused, SendResult, TransientError
from acumbamail_smtp import Message as CoreMessage
from acumbamail_smtp.errors import MissingSender
from acumbamail_smtp.integrations.flask import (
    Acumbamail,
    AppContextError,
    Attachment,
    Message,
    message_sent,
)
from acumbamail_smtp.smtp import RecordingConnection
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask

from .conftest import relay_settings


def test_send_returns_the_result_and_sets_it_on_the_message(app: Flask, mail: Acumbamail,
                                                            relay: FakeRelay) -> None:
    message = Message("Your order", recipients=["ana@example.net"], body="Thanks!", category="ORDER")
    with app.app_context():
        result = mail.send(message)
    [received] = relay.wait_for(1)
    assert isinstance(result, SendResult)
    assert result.status == "sent" and result.accepted == ["ana@example.net"]
    assert result.queue_id == received.id
    assert message.send_result is result
    assert message.msgId == result.message_id == received.message["Message-ID"]
    assert received.category == "ORDER"
    assert received.subject == "Your order"
    assert received.message["From"] == "Shop <shop@example.com>"
    assert received.text is not None and received.text.strip() == "Thanks!"
    assert received.tls and received.authenticated_as == relay.username


def test_the_core_message_is_accepted_too(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    message = CoreMessage(to="bo@example.net", subject="Core", text="plain", from_email="me@example.com")
    with app.app_context():
        result = mail.send(message)
    [received] = relay.wait_for(1)
    assert message.send_result is result
    assert received.mail_from == "me@example.com" and received.rcpt_tos == ["bo@example.net"]


def test_flask_mail_message_fields_reach_the_relay(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    message = Message(
        subject="Invoice",
        recipients=[("Ana Pérez", "ana@example.net")],
        html='<p>See attached <img src="cid:logo"></p>',
        sender=("Billing", "billing@example.com"),
        cc=["cc@example.net"],
        bcc=["audit@example.net"],
        reply_to="help@example.com",
        date=datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
        charset="utf-8",
        extra_headers={"X-Order": "1234"},
        category="INVOICE",
    )
    message.body = "See attached"
    message.add_recipient("second@example.net")
    message.attach("invoice.pdf", "application/pdf", b"%PDF-1.4 made up")
    message.attach("logo.png", "image/png", b"\x89PNG made up", "inline", headers={"Content-ID": "<logo>"})
    with app.app_context():
        mail.send(message)
    [received] = relay.wait_for(1)
    email = received.message
    assert received.mail_from == "billing@example.com"
    assert sorted(received.rcpt_tos) == sorted(
        ["ana@example.net", "second@example.net", "cc@example.net", "audit@example.net"])
    assert email["From"] == "Billing <billing@example.com>"
    assert email["To"] == "Ana Pérez <ana@example.net>, second@example.net"
    assert email["Cc"] == "cc@example.net"
    assert email["Bcc"] is None
    assert email["Reply-To"] == "help@example.com"
    assert email["X-Order"] == "1234"
    assert parsedate_to_datetime(email["Date"]) == datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert received.category == "INVOICE"
    assert received.html is not None and "cid:logo" in received.html
    parts = {part.get_filename(): part for part in email.walk() if part.get_filename()}
    assert parts["invoice.pdf"].get_content_type() == "application/pdf"
    assert parts["invoice.pdf"].get_payload(decode=True) == b"%PDF-1.4 made up"
    assert parts["logo.png"]["Content-ID"] == "<logo>"
    assert parts["logo.png"].get_content_disposition() == "inline"


@pytest.mark.parametrize(("change", "named"), [
    ({"charset": "no-such-charset"}, "charset"),
    ({"mail_options": ["SMTPUTF8"]}, "mail_options"),
    ({"rcpt_options": ["NOTIFY=NEVER"]}, "rcpt_options"),
    ({"alts": {"not a subtype": "<p>x</p>"}}, "not a subtype"),
    ({"extra_headers": {"Subject": "again"}}, "Subject"),
    ({"extra_headers": {"X-Bad": "a\r\nBcc: victim@example.net"}}, "X-Bad"),
    ({"attachments": [Attachment("a.txt", "text/plain", b"x", "inline")]}, "Content-ID"),
    ({"attachments": [Attachment("a.txt", "text/plain", b"x", headers={"X-Extra": "1"})]}, "X-Extra"),
    ({"recipients": ["not-an-address"]}, "recipients"),
    ({"sender": ("Name", "broken")}, "sender"),
])
def test_what_cannot_be_carried_is_refused_before_sending(app: Flask, mail: Acumbamail, relay: FakeRelay,
                                                          change: dict[str, Any], named: str) -> None:
    fields: dict[str, Any] = {"subject": "Hi", "recipients": ["ana@example.net"], "body": "Hello", **change}
    with app.app_context(), pytest.raises(InvalidMessage, match=named):
        mail.send(Message(**fields))
    assert relay.sessions == 0


def test_alts_html_is_the_html_body(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    with app.app_context():
        mail.send(Message("Alt", recipients=["ana@example.net"], body="text", alts={"html": "<b>bold</b>"}))
    [received] = relay.wait_for(1)
    assert received.html is not None and "<b>bold</b>" in received.html


def test_refused_recipients_raise_with_the_result_on_the_message(app: Flask, mail: Acumbamail,
                                                                 relay: FakeRelay) -> None:
    relay.hard_bounce("gone@example.net")
    message = Message("Hi", recipients=["gone@example.net"], body="Hello")
    with app.app_context(), pytest.raises(RecipientsRefused) as caught:
        mail.send(message)
    assert message.send_result is caught.value.result
    assert caught.value.result.refused["gone@example.net"].code == 550


def test_send_many_uses_one_connection_and_keeps_order(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    relay.hard_bounce("gone@example.net")
    messages = [Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x") for i in range(3)]
    messages.insert(1, Message("refused", recipients=["gone@example.net"], body="x"))
    with app.app_context():
        results = mail.send_many(messages)
    assert [r.status for r in results] == ["sent", "refused", "sent", "sent"]
    assert [m.send_result for m in messages] == results
    assert relay.sessions == 1
    assert [m.subject for m in relay.wait_for(3)] == ["n0", "n1", "n2"]


def test_send_many_validates_everything_before_sending(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    messages = [Message("ok", recipients=["a@example.net"], body="x"), Message("no body", recipients=["b@example.net"])]
    with app.app_context(), pytest.raises(InvalidMessage, match="no body"):
        mail.send_many(messages)
    assert relay.messages == [] and relay.sessions == 0


def test_connect_reuses_one_connection(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    with app.app_context(), mail.connect() as connection:
        for i in range(3):
            connection.send(Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x"))
        connection.send_message(subject="shortcut", recipients=["s@example.net"], body="x")
    assert len(relay.wait_for(4)) == 4
    assert relay.sessions == 1


@pytest.mark.parametrize("key", ["ACUMBAMAIL_MAX_EMAILS", "MAIL_MAX_EMAILS"])
def test_max_emails_reconnects_after_that_many(make_app: Any, relay: FakeRelay, key: str) -> None:
    app = make_app(**relay_settings(relay), **{key: 2})
    mail = Acumbamail(app)
    with app.app_context(), mail.connect() as connection:
        for i in range(5):
            connection.send(Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x"))
    assert len(relay.wait_for(5)) == 5
    assert relay.sessions == 3  # 2 + 2 + 1


def test_max_emails_splits_send_many_over_connections(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay), MAIL_MAX_EMAILS=2)
    mail = Acumbamail(app)
    messages = [Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x") for i in range(5)]
    with app.app_context():
        results = mail.send_many(messages)
    assert [r.status for r in results] == ["sent"] * 5
    assert [m.subject for m in relay.wait_for(5)] == [f"n{i}" for i in range(5)]
    assert relay.sessions == 3


def test_message_sent_carries_app_message_and_result(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    seen: list[tuple[Any, Any, Any]] = []

    def listener(sender: Any, message: Any, result: Any) -> None:
        seen.append((sender, message, result))

    message = Message("Signal", recipients=["ana@example.net"], body="x")
    with message_sent.connected_to(listener, sender=app), app.app_context():
        result = mail.send(message)
    assert seen == [(app, message, result)]


def test_record_messages_lists_what_was_sent(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    relay.hard_bounce("gone@example.net")
    first = Message("first", recipients=["a@example.net"], body="x")
    with app.app_context(), mail.record_messages() as outbox:
        mail.send(first)
        mail.send_many([Message("refused", recipients=["gone@example.net"], body="x"),
                        Message("second", recipients=["b@example.net"], body="x")])
    assert [m.subject for m in outbox] == ["first", "second"]
    assert outbox[0] is first
    with app.app_context():
        mail.send(Message("after", recipients=["c@example.net"], body="x"))
    assert len(outbox) == 2


def test_suppressed_sending_records_and_validates_without_connecting(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay)
    del settings["ACUMBAMAIL_SUPPRESS_SEND"]
    app = make_app(**settings)  # TESTING=True: suppressed by default
    mail = Acumbamail(app)
    with app.app_context(), mail.record_messages() as outbox:
        assert mail.sending_suppressed
        result = mail.send(Message("quiet", recipients=["a@example.net"], body="x", category="QUIET"))
        with pytest.raises(InvalidMessage, match="recipient"):
            mail.send(Message("no one", body="x"))
    assert relay.sessions == 0 and relay.messages == []
    assert [m.subject for m in outbox] == ["quiet"]
    assert result.status == "sent" and result.accepted == ["a@example.net"]
    assert result.reply is None and result.category == "QUIET"


def test_suppressed_sending_still_honours_the_suppression_list(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay)
    del settings["ACUMBAMAIL_SUPPRESS_SEND"]
    app = make_app(**settings)  # TESTING=True: suppressed sending, the default store in the instance folder
    mail = Acumbamail(app)
    with app.app_context(), mail.record_messages() as outbox:
        assert mail.sending_suppressed and mail.store is not None
        mail.store.suppress("gone@example.net", "hard_bounce")
        only_gone = Message("to gone", recipients=["Gone@Example.net"], body="x")
        with pytest.raises(RecipientsRefused) as caught:
            mail.send(only_gone)
        mixed = mail.send(Message("mixed", recipients=["ana@example.net", "gone@example.net"], body="x"))
        many = mail.send_many([Message("batch gone", recipients=["gone@example.net"], body="x"),
                               Message("batch ana", recipients=["ana@example.net"], body="x")])
        with mail.connect() as connection:
            with pytest.raises(RecipientsRefused):
                connection.send(Message("conn gone", recipients=["gone@example.net"], body="x"))
        recorded_sends = list(mail.store.sends())
    refused = caught.value.result
    assert (refused.status, refused.accepted, refused.suppressed) == ("refused", [], ["Gone@Example.net"])
    assert only_gone.send_result is refused
    assert (mixed.status, mixed.accepted, mixed.suppressed) == ("partially_refused", ["ana@example.net"],
                                                                ["gone@example.net"])
    assert [(r.status, r.suppressed) for r in many] == [("refused", ["gone@example.net"]), ("sent", [])]
    assert [m.subject for m in outbox] == ["mixed", "batch ana"]
    assert relay.sessions == 0 and relay.messages == []
    assert recorded_sends == []  # nothing was sent: made-up sends stay out of the store


@pytest.mark.parametrize(("config", "suppressed"), [
    ({"TESTING": False}, False),
    ({"TESTING": True}, True),
    ({"TESTING": True, "MAIL_SUPPRESS_SEND": False}, False),
    ({"TESTING": False, "MAIL_SUPPRESS_SEND": True}, True),
    ({"MAIL_SUPPRESS_SEND": True, "ACUMBAMAIL_SUPPRESS_SEND": "false"}, False),
])
def test_suppress_send_keys_and_default(make_app: Any, config: dict[str, Any], suppressed: bool) -> None:
    app = make_app(**config)
    mail = Acumbamail(app)
    with app.app_context():
        assert mail.sending_suppressed is suppressed


def test_sending_from_a_background_thread_with_an_app_context(app: Flask, mail: Acumbamail,
                                                              relay: FakeRelay) -> None:
    outcome: list[Any] = []

    def work() -> None:
        with app.app_context():
            outcome.append(mail.send(Message("from a thread", recipients=["t@example.net"], body="x")))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(20)
    assert [r.status for r in outcome] == ["sent"]
    assert relay.wait_for(1)[0].subject == "from a thread"


def test_sending_outside_an_app_context_says_what_to_do(mail: Acumbamail, relay: FakeRelay) -> None:
    with pytest.raises(AppContextError, match=r"app\.app_context\(\)") as caught:
        mail.send(Message("x", recipients=["a@example.net"], body="x"))
    assert isinstance(caught.value, RuntimeError)
    assert relay.sessions == 0


def test_an_app_without_the_extension_is_named(make_app: Any, mail: Acumbamail) -> None:
    other = make_app("other_app")
    with other.app_context(), pytest.raises(AppContextError, match="init_app"):
        mail.send(Message("x", recipients=["a@example.net"], body="x"))


def test_factory_form_serves_several_apps_with_their_own_settings(make_app: Any) -> None:
    mail = Acumbamail()
    with FakeRelay(username="one@example.com", password="made-up-one") as one, \
            FakeRelay(username="two@example.com", password="made-up-two") as two:
        first = make_app("first_app", **relay_settings(one, ACUMBAMAIL_DEFAULT_CATEGORY="FIRST"))
        second = make_app("second_app", **relay_settings(two, ACUMBAMAIL_DEFAULT_CATEGORY="SECOND"))
        mail.init_app(first)
        mail.init_app(second)
        assert first.extensions["acumbamail"].extension is mail
        for app in (first, second, first):
            with app.app_context():
                mail.send(Message("hello", recipients=["a@example.net"], body="x"))
        assert [m.category for m in one.wait_for(2)] == ["FIRST", "FIRST"]
        assert [m.category for m in two.wait_for(1)] == ["SECOND"]
        assert [m.authenticated_as for m in two.messages] == ["two@example.com"]


def test_init_app_twice_on_one_app_is_refused(app: Flask) -> None:
    with pytest.raises(AppContextError, match="already"):
        Acumbamail(app)


def test_the_store_records_sends_and_suppression_applies(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    with app.app_context():
        mail.send(Message("first", recipients=["ana@example.net", "bo@example.net"], body="x"))
        store = mail.store
        assert store is not None
        assert [s.recipient for s in store.sends()] == ["ana@example.net", "bo@example.net"]
        store.suppress("bo@example.net", "hard_bounce")
        result = mail.send(Message("second", recipients=["ana@example.net", "bo@example.net"], body="x"))
    assert result.status == "partially_refused" and result.suppressed == ["bo@example.net"]
    assert relay.wait_for(2)[1].rcpt_tos == ["ana@example.net"]


def test_a_missing_sender_names_the_flask_settings(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay)
    del settings["ACUMBAMAIL_DEFAULT_SENDER"]
    app = make_app(**settings)
    mail = Acumbamail(app)
    with app.app_context():
        with pytest.raises(InvalidMessage, match="ACUMBAMAIL_DEFAULT_SENDER nor MAIL_DEFAULT_SENDER"):
            mail.send(Message("Hi", recipients=["a@example.net"], body="x"))
        with pytest.raises(InvalidMessage, match="MAIL_DEFAULT_SENDER"):
            mail.send_many([Message("Hi", recipients=["a@example.net"], body="x")])
    assert relay.sessions == 0


def test_a_missing_sender_is_its_own_error_type(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay)
    del settings["ACUMBAMAIL_DEFAULT_SENDER"]
    app = make_app(**settings)
    mail = Acumbamail(app)
    with app.app_context(), pytest.raises(MissingSender) as caught:
        mail.send(Message("Hi", recipients=["a@example.net"], body="x"))
    assert isinstance(caught.value, InvalidMessage)
    assert str(caught.value).startswith("sender:")


def test_suppressed_sending_goes_through_the_cores_recording_connection(make_app: Any, relay: FakeRelay) -> None:
    settings = relay_settings(relay, ACUMBAMAIL_SUPPRESS_SEND=True, MAIL_MAX_EMAILS=2)
    app = make_app(**settings)
    mail = Acumbamail(app)
    with app.app_context(), mail.connect() as connection:
        for i in range(3):
            connection.send(Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x"))
    recorder = connection.mailer.connection
    assert isinstance(recorder, RecordingConnection)
    assert [p.recipients for p in recorder.prepared] == [[f"user{i}@example.net"] for i in range(3)]
    assert connection.mailer.max_per_connection == 2
    assert relay.sessions == 0


def test_reply_to_may_be_a_pair_or_a_list(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    with app.app_context():
        mail.send(Message("pair", recipients=["a@example.net"], body="x", reply_to=("Help", "help@example.com")))
        mail.send(Message("list", recipients=["a@example.net"], body="x",
                          reply_to=["one@example.com", "two@example.com"]))
    pair, listed = relay.wait_for(2)
    assert pair.message["Reply-To"] == "Help <help@example.com>"
    assert listed.message["Reply-To"] == "one@example.com, two@example.com"


def test_a_batch_stopped_midway_reports_every_message(make_app: Any, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay), MAIL_MAX_EMAILS=2, ACUMBAMAIL_MAX_TRIES=1)
    mail = Acumbamail(app)
    relay.close_after(2)  # the third message meets "421 closing" on its fresh connection
    messages = [Message(f"n{i}", recipients=[f"user{i}@example.net"], body="x") for i in range(5)]
    with app.app_context(), mail.record_messages() as outbox, pytest.raises(TransientError) as caught:
        mail.send_many(messages)
    outcomes = caught.value.results
    assert outcomes is not None and len(outcomes) == 5
    assert [type(o).__name__ for o in outcomes] == ["SendResult", "SendResult", "TransientError",
                                                    "SendError", "SendError"]
    assert outbox == messages[:2]
    assert [m.send_result is not None for m in messages] == [True, True, False, False, False]
    assert [m.subject for m in relay.messages] == ["n0", "n1"]


def test_send_message_builds_and_sends(app: Flask, mail: Acumbamail, relay: FakeRelay) -> None:
    with app.app_context():
        result = mail.send_message("Shortcut", recipients=["a@example.net"], body="x", category="SHORT")
    assert result.status == "sent"
    assert relay.wait_for(1)[0].category == "SHORT"
