"""TestEmailBackend: the whole sending path of our backend, the SMTP exchange replaced by the core's
RecordingConnection, and Django's ``mail.outbox`` filled as the locmem backend does."""

from __future__ import annotations

import pytest
from acumbamail_smtp import InvalidMessage, RecipientsRefused
from acumbamail_smtp.integrations.django.store import DjangoEventStore
from acumbamail_smtp.integrations.django.testing import TEST_BACKEND_PATH, TestEmailBackend
from acumbamail_smtp.smtp import RecordingConnection
from django.core import mail
from django.core.mail import EmailMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def test_backend(settings, relay):
    settings.EMAIL_BACKEND = TEST_BACKEND_PATH
    settings.EMAIL_HOST, settings.EMAIL_PORT = relay.host, relay.port  # never dialled
    return relay


def test_messages_land_in_the_outbox_with_their_status_and_nothing_connects(test_backend) -> None:
    message = EmailMessage("Welcome", "Hello Ana", "shop@example.com", ["ana@example.com"])
    message.category = "SIGNUP"
    assert message.send() == 1
    assert mail.outbox == [message]
    status = message.acumbamail_status
    assert status.status == "sent" and status.accepted == ["ana@example.com"] and status.category == "SIGNUP"
    assert status.queue_id is not None
    assert test_backend.sessions == 0 and test_backend.messages == []


def test_the_recording_connection_gets_the_prepared_message_and_suppression_applies(test_backend) -> None:
    DjangoEventStore().suppress("gone@example.com", "hard_bounce")
    backend = TestEmailBackend()
    assert isinstance(backend.recorder, RecordingConnection)
    mixed = EmailMessage("Mixed", "x", "shop@example.com", ["ana@example.com", "gone@example.com"])
    only_gone = EmailMessage("Gone", "x", "shop@example.com", ["gone@example.com"])
    assert backend.send_messages([mixed]) == 1
    with pytest.raises(RecipientsRefused):
        backend.send_messages([only_gone])
    [prepared] = backend.recorder.prepared
    assert prepared.recipients == ["ana@example.com"] and prepared.suppressed == ["gone@example.com"]
    assert b"Subject: Mixed" in prepared.data
    assert mixed.acumbamail_status.status == "partially_refused"
    assert only_gone.acumbamail_status.suppressed == ["gone@example.com"]
    assert mail.outbox == [mixed]
    # the one answer for every test mode: suppression applies, nothing is recorded (nothing was sent)
    assert list(DjangoEventStore().sends()) == []
    assert test_backend.sessions == 0


def test_an_invalid_message_raises_as_with_the_real_backend(test_backend) -> None:
    with pytest.raises(InvalidMessage):
        EmailMessage("No sender", "x", "not an address", ["ana@example.com"]).send()
    assert mail.outbox == []
