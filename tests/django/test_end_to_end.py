"""Issue acceptance: the fake relay bounces an address, posts the event over real HTTP to the
project's webhook endpoint (a live server on 127.0.0.1), the project stores it, and the next
message to that address is not sent."""

from __future__ import annotations

from typing import Any

import pytest
from acumbamail_smtp import Event, EventType, RecipientsRefused
from acumbamail_smtp.integrations.django import AcumbamailMessage, tracking
from acumbamail_smtp.integrations.django.models import Suppression
from acumbamail_smtp.integrations.django.testing import relay_settings
from django.core import mail

from tests.django.settings import WEBHOOK_TOKEN


@pytest.mark.django_db(transaction=True)  # the server thread must see what the test commits
def test_hard_bounce_over_http_suppresses_the_next_message(live_app, acumbamail_relay_factory, settings) -> None:
    relay = acumbamail_relay_factory(webhook_url=f"{live_app}/acumbamail/webhook/{WEBHOOK_TOKEN}/")
    for name, value in relay_settings(relay).items():
        setattr(settings, name, value)
    seen: list[Event] = []

    def on_event(sender: Any, event: Event, **kwargs: Any) -> None:
        seen.append(event)

    tracking.connect(on_event, weak=False)
    try:
        relay.hard_bounce("gone@example.com", at="async")  # accepted now, bounced by the far end later
        first = AcumbamailMessage("Welcome", "Hi", None, ["gone@example.com", "ana@example.com"],
                                  category="SIGNUP")
        assert first.send() == 1
        assert first.acumbamail_status.status == "sent"
        relay.flush_webhooks()  # the relay's POSTs were answered 2xx
    finally:
        tracking.disconnect(on_event)

    assert all(d.status == 200 for d in relay.webhook_deliveries)
    assert Suppression.objects.get().address == "gone@example.com"
    by_type = {e.type: e for e in seen}
    assert by_type[EventType.HARD_BOUNCE].recipient == "gone@example.com"
    assert by_type[EventType.HARD_BOUNCE].category == "SIGNUP"  # joined to the send by queue id
    assert by_type[EventType.DELIVERED].recipient == "ana@example.com"

    with pytest.raises(RecipientsRefused) as caught:
        mail.send_mail("Again", "Hi", None, ["Gone@Example.com"])
    assert caught.value.result.suppressed == ["Gone@Example.com"]

    mixed = AcumbamailMessage("Both", "Hi", None, ["gone@example.com", "ana@example.com"], category="NEWS")
    assert mixed.send() == 1
    assert mixed.acumbamail_status.status == "partially_refused"
    assert mixed.acumbamail_status.suppressed == ["gone@example.com"]

    subjects_to_gone = [m.subject for m in relay.messages if "gone@example.com" in m.rcpt_tos]
    assert subjects_to_gone == ["Welcome"]
    assert relay.messages[-1].rcpt_tos == ["ana@example.com"]
