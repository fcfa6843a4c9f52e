"""Async views send on the event loop: ``asend_mail``, ``asend_messages`` and the backend's
``asend_messages`` over real SMTP to the fake relay, one AsyncMailer pool per loop."""

from __future__ import annotations

import asyncio

import pytest
from acumbamail_smtp import RecipientsRefused
from acumbamail_smtp.integrations.django import EmailBackend, post_send
from acumbamail_smtp.integrations.django.aio import (
    aclose_loop_mailers,
    asend_mail,
    asend_messages,
    loop_mailer,
)
from acumbamail_smtp.integrations.django.models import Send
from asgiref.sync import sync_to_async
from django.core.mail import EmailMessage
from django.test import AsyncClient

pytestmark = pytest.mark.django_db(transaction=True)  # the store is written from a worker thread


async def test_asend_mail_reaches_the_relay_from_the_loop_and_is_recorded(use_relay) -> None:
    seen: list[str] = []

    def on_sent(sender, message, result, **kwargs) -> None:
        seen.append(result.message_id)

    post_send.connect(on_sent, weak=False)
    try:
        count = await asend_mail("Hola", "Body", None, ["ana@example.com"], html_message="<p>Body</p>")
    finally:
        post_send.disconnect(on_sent)
    assert count == 1
    [received] = await asyncio.to_thread(use_relay.wait_for, 1)
    assert received.subject == "Hola"
    assert received.html.strip() == "<p>Body</p>"
    assert seen == [received.message["Message-ID"]]
    assert await sync_to_async(list)(Send.objects.values_list("message_id", flat=True)) == [seen[0]]
    await aclose_loop_mailers()


async def test_one_pool_per_loop_reused_across_calls(use_relay) -> None:
    backend = EmailBackend()
    messages = [EmailMessage(f"n{n}", "b", None, [f"r{n}@example.com"]) for n in range(3)]
    assert await asend_messages(messages[:2], connection=backend) == 2
    mailer = loop_mailer(backend.config, backend.store)
    assert mailer.open_connections == 1  # the connection stayed open in the pool, not per call
    assert await backend.asend_messages(messages[2:]) == 1
    assert loop_mailer(backend.config, backend.store) is mailer
    assert [m.acumbamail_status.status for m in messages] == ["sent"] * 3
    assert len(await asyncio.to_thread(use_relay.wait_for, 3)) == 3
    await aclose_loop_mailers()
    assert mailer.open_connections == 0


async def test_refused_raises_unless_fail_silently(use_relay) -> None:
    use_relay.refuse_recipient("nobody@example.com")
    message = EmailMessage("x", "y", None, ["nobody@example.com"])
    with pytest.raises(RecipientsRefused):
        await EmailBackend().asend_messages([message])
    assert message.acumbamail_status.status == "refused"
    assert await EmailBackend(fail_silently=True).asend_messages(
        [EmailMessage("x", "y", None, ["nobody@example.com"])]) == 0
    await aclose_loop_mailers()


async def test_an_async_view_sends_with_the_async_client(use_relay) -> None:
    response = await AsyncClient().get("/async-signup/", {"to": "bea@example.com"})
    assert response.status_code == 200
    assert response.json() == {"sent": 1}
    [received] = await asyncio.to_thread(use_relay.wait_for, 1)
    assert received.rcpt_tos == ["bea@example.com"]
    await aclose_loop_mailers()


async def test_async_sends_honour_the_suppression_setting(use_relay, settings) -> None:
    from acumbamail_smtp.integrations.django import conf

    await sync_to_async(conf.event_store().suppress)("gone@example.com")
    on = EmailMessage("on", "b", None, ["gone@example.com"])
    with pytest.raises(RecipientsRefused):  # the default: the list applies, nobody is left
        await EmailBackend().asend_messages([on])
    assert on.acumbamail_status.suppressed == ["gone@example.com"]
    assert use_relay.messages == []

    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "SUPPRESSION": False}
    assert await asend_mail("off", "b", None, ["gone@example.com"]) == 1
    [received] = await asyncio.to_thread(use_relay.wait_for, 1)
    assert (received.subject, received.rcpt_tos) == ("off", ["gone@example.com"])
    await aclose_loop_mailers()
