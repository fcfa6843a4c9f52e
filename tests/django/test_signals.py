"""pre_send (change or cancel a message) and post_send (the SendResult), over real SMTP."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from acumbamail_smtp import RecipientsRefused
from acumbamail_smtp.integrations.django import CancelSend, EmailBackend, post_send, pre_send
from django.core import mail
from django.core.mail import EmailMessage
from django.dispatch import Signal

pytestmark = pytest.mark.django_db


@pytest.fixture
def connect() -> Iterator[Any]:
    """Connect receivers for one test; disconnected afterwards."""
    connected: list[tuple[Signal, Any]] = []

    def add(signal: Signal, handler: Any) -> Any:
        signal.connect(handler, weak=False)
        connected.append((signal, handler))
        return handler

    yield add
    for signal, handler in connected:
        signal.disconnect(handler)


def test_pre_send_can_cancel_a_message(use_relay, connect) -> None:
    def no_test_domains(sender: Any, message: EmailMessage, **kwargs: Any) -> None:
        if any(a.endswith("@test.invalid") for a in message.to):
            raise CancelSend

    connect(pre_send, no_test_domains)
    keep = EmailMessage("keep", "b", None, ["ana@example.com"])
    drop = EmailMessage("drop", "b", None, ["qa@test.invalid"])
    assert mail.get_connection().send_messages([drop, keep]) == 1
    assert [m.subject for m in use_relay.wait_for(1)] == ["keep"]
    assert drop.acumbamail_status is None
    assert keep.acumbamail_status.status == "sent"


def test_pre_send_can_change_the_message(use_relay, connect) -> None:
    def categorize(sender: Any, message: EmailMessage, backend: Any, **kwargs: Any) -> None:
        assert sender is EmailBackend and isinstance(backend, EmailBackend)
        message.category = "FROM_SIGNAL"
        message.subject = f"[tagged] {message.subject}"

    connect(pre_send, categorize)
    mail.send_mail("Hello", "b", None, ["ana@example.com"])
    [received] = use_relay.wait_for(1)
    assert (received.category, received.subject) == ("FROM_SIGNAL", "[tagged] Hello")


def test_a_failing_pre_send_receiver_stops_the_send(use_relay, connect) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("receiver bug")

    connect(pre_send, broken)
    with pytest.raises(RuntimeError, match="receiver bug"):
        mail.send_mail("Hello", "b", None, ["ana@example.com"])
    assert use_relay.messages == []


def test_post_send_gets_the_result_even_for_refused_messages(use_relay, connect) -> None:
    seen: list[tuple[str, str, str | None]] = []

    def record(sender: Any, message: EmailMessage, result: Any, **kwargs: Any) -> None:
        seen.append((message.subject, result.status, result.queue_id))

    connect(post_send, record)
    use_relay.refuse_recipient("bad@example.com")
    mail.send_mail("ok", "b", None, ["ana@example.com"])
    with pytest.raises(RecipientsRefused):
        mail.send_mail("refused", "b", None, ["bad@example.com"])
    [received] = use_relay.wait_for(1)
    assert seen == [("ok", "sent", received.id), ("refused", "refused", None)]


def test_a_failing_post_send_receiver_is_logged_not_raised(use_relay, connect, caplog) -> None:
    calls: list[str] = []

    def broken(message: EmailMessage, **kwargs: Any) -> None:
        calls.append(message.subject)
        raise RuntimeError("post_send bug")

    connect(post_send, broken)
    with caplog.at_level(logging.ERROR, logger="django.dispatch"):
        assert mail.send_mail("Hello", "b", None, ["ana@example.com"]) == 1
    assert "post_send bug" in caplog.text
    # Django's default logging mails the error to ADMINS (DEBUG is off) through this very backend;
    # that mail goes out once, without dispatching post_send again (which would loop forever).
    received = use_relay.wait_for(2)
    assert [m.rcpt_tos for m in received] == [["ana@example.com"], ["ops@example.com"]]
    assert "post_send bug" in received[1].text
    assert calls == ["Hello"]
