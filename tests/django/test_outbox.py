"""QueuedEmailBackend and the ORM outbox: send_mail returns after the insert, inside the caller's
transaction; the worker (command, drain, Django Tasks) sends over real SMTP to the fake relay."""

from __future__ import annotations

from datetime import timedelta

import django
import pytest
from acumbamail_smtp.integrations.django import post_send, send_failed
from acumbamail_smtp.integrations.django.models import QueuedEmail, Send
from acumbamail_smtp.integrations.django.outbox import DjangoOutboxBackend
from acumbamail_smtp.integrations.django.worker import drain_from_settings
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

QUEUED = "acumbamail_smtp.integrations.django.QueuedEmailBackend"
pytestmark = pytest.mark.django_db(transaction=True)  # on_commit and rollbacks are real here


@pytest.fixture
def queued(settings, use_relay):
    settings.EMAIL_BACKEND = QUEUED
    return use_relay


def test_send_mail_only_inserts_and_says_queued(queued) -> None:
    message = mail.EmailMessage("Welcome", "Hello", None, ["ana@example.com"])
    assert message.send() == 1
    assert message.acumbamail_status == "queued"
    [row] = QueuedEmail.objects.all()
    assert (row.status, row.recipients, row.attempts) == ("queued", ["ana@example.com"], 0)
    assert b"Subject: Welcome" in bytes(row.data)
    assert queued.messages == []  # nothing went to the relay


def test_the_worker_sends_records_and_fires_post_send(queued) -> None:
    seen = []
    post_send.connect(lambda sender, result, **kw: seen.append(result.message_id), weak=False,
                      dispatch_uid="t-outbox")
    try:
        mail.send_mail("One", "b", None, ["ana@example.com"])
        mail.send_mail("Two", "b", None, ["bea@example.com"])
        call_command("acumbamail_worker", "--once")
    finally:
        post_send.disconnect(dispatch_uid="t-outbox")
    received = queued.wait_for(2)
    assert sorted(m.subject for m in received) == ["One", "Two"]
    rows = list(QueuedEmail.objects.order_by("id"))
    assert [r.status for r in rows] == ["sent", "sent"]
    assert all(r.queue_id and r.reply_code == 250 for r in rows)
    assert sorted(seen) == sorted(r.message_id for r in rows)
    assert set(Send.objects.values_list("message_id", flat=True)) == set(seen)
    assert drain_from_settings().sent == 0  # nothing twice


def test_a_rolled_back_transaction_sends_nothing(queued) -> None:
    def order() -> None:
        with transaction.atomic():
            mail.send_mail("Rolled back", "b", None, ["ana@example.com"])
            assert QueuedEmail.objects.count() == 1
            raise RuntimeError("the order failed")

    with pytest.raises(RuntimeError):
        order()
    assert QueuedEmail.objects.count() == 0
    assert drain_from_settings().sent == 0
    assert queued.messages == []


def test_a_refused_message_ends_failed_with_send_failed(queued) -> None:
    queued.refuse_recipient("gone@example.com")
    failed = []
    send_failed.connect(lambda sender, message_id, reason, **kw: failed.append((message_id, reason)),
                        weak=False, dispatch_uid="t-failed")
    try:
        mail.send_mail("x", "y", None, ["gone@example.com"])
        report = drain_from_settings()
    finally:
        send_failed.disconnect(dispatch_uid="t-failed")
    assert (report.sent, report.failed) == (0, 1)
    [row] = QueuedEmail.objects.all()
    assert row.status == "failed" and "550" in row.last_error
    assert failed == [(row.message_id, row.last_error)]


def test_relay_down_retries_later_then_fails_past_the_deadline(queued, settings) -> None:
    settings.EMAIL_PORT = 1  # nothing listens there
    mail.send_mail("x", "y", None, ["ana@example.com"])
    report = drain_from_settings()
    assert report.retried == 1
    row = QueuedEmail.objects.get()
    assert row.status == "queued" and row.send_after > timezone.now() and row.attempts == 1
    QueuedEmail.objects.update(send_after=timezone.now(), created_at=timezone.now() - timedelta(days=2))
    assert drain_from_settings().failed == 1
    assert QueuedEmail.objects.get().status == "failed"


def test_an_expired_lease_is_claimed_again_and_priority_first(queued) -> None:
    outbox = DjangoOutboxBackend()
    mail.send_mail("late", "b", None, ["ana@example.com"])
    mail.send_mail("urgent", "b", None, ["bea@example.com"])
    QueuedEmail.objects.filter(recipients=["bea@example.com"]).update(priority=5)
    now = timezone.now()
    first = outbox.claim(1, "w1", 60.0, now)
    assert [r.recipients for r in first] == [["bea@example.com"]]
    assert [r.recipients for r in outbox.claim(5, "w2", 60.0, now)] == [["ana@example.com"]]
    assert outbox.claim(5, "w3", 60.0, now) == []  # both leased
    again = outbox.claim(5, "w3", 60.0, now + timedelta(seconds=61))
    assert len(again) == 2 and {r.attempts for r in again} == {2}
    stats = outbox.stats(now)
    assert stats.in_flight == 2 and stats.queued == 0


def test_retry_and_purge(queued) -> None:
    outbox = DjangoOutboxBackend()
    mail.send_mail("x", "y", None, ["ana@example.com"])
    QueuedEmail.objects.update(status="failed")
    assert outbox.retry(None) == 1
    assert QueuedEmail.objects.get().status == "queued"
    assert drain_from_settings().sent == 1
    assert outbox.purge("sent", None) == 1
    assert QueuedEmail.objects.count() == 0


def test_the_task_is_enqueued_on_commit_and_drains(queued, settings) -> None:
    framework = "django.tasks" if django.VERSION >= (6, 0) else "django_tasks"
    settings.TASKS = {"default": {"BACKEND": f"{framework}.backends.immediate.ImmediateBackend"}}
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "TASK_BACKEND": "default"}
    with transaction.atomic():
        mail.send_mail("Tasked", "b", None, ["ana@example.com"])
        assert queued.messages == []  # not before the commit
    [received] = queued.wait_for(1)
    assert received.subject == "Tasked"
    assert QueuedEmail.objects.get().status == "sent"


def test_one_connection_for_the_whole_drain(queued) -> None:
    for n in range(3):
        mail.send_mail(f"n{n}", "b", None, [f"r{n}@example.com"])
    before = queued.sessions
    assert drain_from_settings(batch=2).sent == 3
    assert queued.sessions - before == 1
