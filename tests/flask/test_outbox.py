"""ACUMBAMAIL_OUTBOX: send() stores and returns; ``flask acumbamail worker`` sends through the
fake relay, and the signals fire then, not in the request."""

from __future__ import annotations

import sqlite3
from typing import Any

from acumbamail_smtp.errors import TransientError
from acumbamail_smtp.integrations.flask import (
    Acumbamail,
    Message,
    email_dispatched,
    message_failed,
    message_sent,
)
from acumbamail_smtp.testserver import FakeRelay

from tests.flask.conftest import relay_settings


def test_send_enqueues_and_the_worker_sends_and_signals(make_app, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_OUTBOX=True))
    mail = Acumbamail(app)
    dispatched: list[Any] = []
    sent: list[Any] = []

    def on_dispatched(sender: Any, message: Any, **extra: Any) -> None:
        dispatched.append(message)

    def on_sent(sender: Any, message: Any, result: Any, **extra: Any) -> None:
        sent.append((message, result))

    with email_dispatched.connected_to(on_dispatched, app), message_sent.connected_to(on_sent, app):
        with app.app_context():
            message = Message("Welcome", recipients=["ana@example.com"], body="Hello Ana")
            result = mail.send(message)
        assert result.status == "queued"
        assert message.msgId == result.message_id
        assert relay.messages == [] and dispatched == [] and sent == []

        outcome = app.test_cli_runner().invoke(args=["acumbamail", "worker", "--once"])

    assert outcome.exit_code == 0, outcome.output
    assert "sent 1," in outcome.output
    received = relay.wait_for(1)
    assert str(received[0].message["Message-ID"]) == result.message_id
    assert [m.subject for m in dispatched] == ["Welcome"]
    assert sent[0][0].msgId == result.message_id and sent[0][1].queue_id == received[0].id
    assert sent[0][0].recipients == ["ana@example.com"]


def test_a_refused_message_signals_message_failed(make_app, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_OUTBOX=True))
    mail = Acumbamail(app)
    relay.refuse_recipient("gone@example.com")
    failed: list[Any] = []

    def on_failed(sender: Any, message: Any, error: Any, **extra: Any) -> None:
        failed.append((message, error))

    with message_failed.connected_to(on_failed, app):
        with app.app_context():
            results = mail.send_many([Message("A", recipients=["gone@example.com"], body="x"),
                                      Message("B", recipients=["ok@example.com"], body="y")])
        outcome = app.test_cli_runner().invoke(args=["acumbamail", "worker", "--once"])

    assert [r.status for r in results] == ["queued", "queued"]
    assert "sent 1, retried 0, failed 1" in outcome.output
    assert [m.msgId for m, _ in failed] == [results[0].message_id]
    assert [m.message["Subject"] for m in relay.messages] == ["B"]


def test_a_message_out_of_retries_past_the_deadline_signals_message_failed(make_app, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay, ACUMBAMAIL_OUTBOX=True))
    mail = Acumbamail(app)
    relay.fail_next_data(451, times=5)  # 4xx at end of data: transient, retried by the outbox
    failed: list[Any] = []

    def on_failed(sender: Any, message: Any, error: Any, **extra: Any) -> None:
        failed.append((message, error))

    worker = app.test_cli_runner()
    with message_failed.connected_to(on_failed, app):
        with app.app_context():
            result = mail.send(Message("Later", recipients=["busy@example.com"], body="x"))
            path = mail.store.path
        first = worker.invoke(args=["acumbamail", "worker", "--once"])
        assert "retried 1, failed 0" in first.output, first.output
        assert failed == []  # a retry is not a failure

        with sqlite3.connect(path) as db:  # enqueued long ago, due now: past the one-day deadline
            db.execute("UPDATE outbox SET created_at = '2000-01-01 00:00:00.000000', "
                       "send_after = '2000-01-01 00:00:00.000000'")
        second = worker.invoke(args=["acumbamail", "worker", "--once"])

    assert "retried 0, failed 1" in second.output, second.output
    [(message, error)] = failed
    assert message.msgId == result.message_id and message.recipients == ["busy@example.com"]
    assert isinstance(error, TransientError) and error.code == 451
    assert relay.messages == []


def test_without_the_setting_send_is_inline(make_app, relay: FakeRelay) -> None:
    app = make_app(**relay_settings(relay))
    mail = Acumbamail(app)
    with app.app_context():
        result = mail.send(Message("Hi", recipients=["ana@example.com"], body="x"))
    assert result.status == "sent" and len(relay.messages) == 1


def test_the_long_running_worker_sends_and_signals_until_stopped(make_app, relay: FakeRelay) -> None:
    import threading

    from acumbamail_smtp.integrations.flask.outbox import work

    app = make_app(**relay_settings(relay, ACUMBAMAIL_OUTBOX=True))
    mail = Acumbamail(app)
    sent: list[Any] = []
    with message_sent.connected_to(lambda sender, message, result, **extra: sent.append(result), app):
        with app.app_context():
            queued = mail.send(Message("Loop", recipients=["ana@example.com"], body="Hello"))
            settings, store = app.extensions["acumbamail"].settings(app), mail.store
        stop = threading.Event()
        loop = threading.Thread(target=work, args=(app, settings, store), kwargs={"poll": 0.05, "stop": stop})
        loop.start()
        try:
            received = relay.wait_for(1)
        finally:
            stop.set()
            loop.join(10)
    assert not loop.is_alive()
    assert str(received[0].message["Message-ID"]) == queued.message_id
    assert [r.message_id for r in sent] == [queued.message_id]
