"""``acumbamail-smtp demo``: the library end to end against the embedded fake relay, no credentials.

It starts :class:`~acumbamail_smtp.testserver.FakeRelay` and a webhook endpoint on 127.0.0.1, sends
categorized mail through :class:`~acumbamail_smtp.Mailer` (text+HTML and a starter template) and
:class:`~acumbamail_smtp.AsyncMailer`, over STARTTLS with AUTH; the relay then reports deliveries,
a bounce, an open and a click by webhook, the bounced address is suppressed, and a report sums it up.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path

from acumbamail_smtp.config import RelayConfig
from acumbamail_smtp.errors import RecipientsRefused
from acumbamail_smtp.message.model import Message
from acumbamail_smtp.smtp.aio import AsyncMailer
from acumbamail_smtp.smtp.sync import Mailer
from acumbamail_smtp.store.sqlite import SQLiteEventStore
from acumbamail_smtp.webhooks.receiver import WebhookReceiver
from acumbamail_smtp.webhooks.server import WebhookServer
from acumbamail_smtp.webhooks.verify import WebhookVerifier


def _print(line: str = "") -> None:
    print(line, flush=True)


async def _send_async(config: RelayConfig, store: SQLiteEventStore) -> None:
    async with AsyncMailer(config, pool_size=3, store=store) as mailer:
        results = await mailer.send_many(
            Message(to=f"customer{i}@example.net", subject=f"Your receipt #{1000 + i}",
                    text=f"Thank you for order #{1000 + i}.", category="ORDER_CONFIRMATION")
            for i in range(1, 4)
        )
    for result in results:
        _print(f"  AsyncMailer: {result.status}, queue id {result.queue_id}")


def run() -> int:
    from acumbamail_smtp import reports
    from acumbamail_smtp.testserver import FakeRelay

    token = secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="acumbamail-demo-") as tmp:
        store = SQLiteEventStore(Path(tmp) / "events.sqlite3")
        receiver = WebhookReceiver(store, WebhookVerifier(token=token))
        # made-up credentials for a relay that only listens on 127.0.0.1
        with WebhookServer(receiver) as endpoint, FakeRelay(
            username="demo@example.com", password="demo-password",  # noqa: S106
            webhook_url=endpoint.url(token),
        ) as relay:
            config = relay.client_config(default_from="Demo Shop <shop@example.com>")
            _print(f"Fake relay on {relay.host}:{relay.port} (STARTTLS) and {relay.host}:"
                   f"{relay.tls_port} (TLS); its web page: {relay.http_url}")
            _print(f"Webhook endpoint on {endpoint.url()}/<token>; event store in a temporary folder")
            _print()
            relay.hard_bounce("nobody@example.org", at="async")  # accepted now, bounced later
            with Mailer(config, store=store) as mailer:
                result = mailer.send(Message(
                    to="Ana <ana@example.org>", subject="Confirm your account",
                    text="Welcome! Confirm your account: https://shop.example.com/confirm/abc",
                    html="<p>Welcome! <a href='https://shop.example.com/confirm/abc'>Confirm your "
                         "account</a></p>",
                    category="SIGNUP",
                ))
                _print(f"  Mailer: {result.status}, queue id {result.queue_id}")
                welcome = mailer.send_template(
                    "registration_confirmation",
                    {"brand_name": "Demo Shop", "name": "Luis",
                     "confirm_url": "https://shop.example.com/c/xyz"},
                    to="luis@example.org", category="SIGNUP",
                )
                _print(f"  Mailer, starter template 'registration_confirmation': {welcome.status}, "
                       f"queue id {welcome.queue_id}")
                bounced = mailer.send(Message(to="nobody@example.org", subject="Your password",
                                              text="Reset it here.", category="PASSWORD_RECOVERY"))
                _print(f"  Mailer: {bounced.status} to nobody@example.org, queue id {bounced.queue_id}")
            asyncio.run(_send_async(config, store))

            received = relay.wait_for(6)
            _print()
            _print(f"The relay received {len(received)} messages:")
            for item in received:
                parts = "+".join(p.get_content_subtype() for p in item.message.walk()
                                 if not p.is_multipart())
                _print(f"  {item.id}  {', '.join(item.rcpt_tos):24} {item.category or '-':19} "
                       f"{str(item.message['Subject'])[:40]:40} [{parts}]")

            relay.emit_open("ana@example.org")
            relay.emit_click("ana@example.org", "https://shop.example.com/confirm/abc")
            relay.flush_webhooks()
            _print()
            _print("Events the relay posted to the webhook endpoint, as stored:")
            for event in store.events():
                _print(f"  {event.type.value:12} {event.recipient:24} {event.category or '-':19} "
                       f"{event.url or ''}")

            _print()
            try:
                Mailer(config, store=store).send(Message(to="nobody@example.org", subject="Again",
                                                         text="?", category="PASSWORD_RECOVERY"))
            except RecipientsRefused as exc:
                _print(f"Sending to the bounced address again: {type(exc).__name__}, "
                       f"suppressed {exc.result.suppressed} (nothing was sent)")

        total = reports.summary(store)
        _print()
        _print(f"Report: sent {total.sent}, delivered {total.delivered}, opened {total.opened}, "
               f"clicked {total.clicked}, hard bounces {total.hard_bounces}, "
               f"suppressed {total.suppressed}; open rate {total.open_rate:.0%}")
        for row in reports.by_category(store):
            _print(f"  {row.key or '-':19} sent {row.sent}, delivered {row.delivered}, "
                   f"opened {row.opened}, hard bounces {row.hard_bounces}")
        store.close()
    return 0
