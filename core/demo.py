"""``acumbamail-smtp demo``: the library end to end against the embedded fake relay, no credentials.

It starts :class:`~acumbamail_smtp.testserver.FakeRelay` on 127.0.0.1, sends a categorized
text+HTML message through :class:`~acumbamail_smtp.Mailer` and three through
:class:`~acumbamail_smtp.AsyncMailer`, over STARTTLS with AUTH, and prints what the relay received.
"""

from __future__ import annotations

import asyncio

from .aio import AsyncMailer
from .message import Message
from .transport import Mailer


def _print(line: str = "") -> None:
    print(line, flush=True)


async def _send_async(config: object) -> None:
    from .config import RelayConfig

    assert isinstance(config, RelayConfig)
    async with AsyncMailer(config, pool_size=3) as mailer:
        results = await mailer.send_many(
            Message(to=f"customer{i}@example.net", subject=f"Your receipt #{1000 + i}",
                    text=f"Thank you for order #{1000 + i}.", category="ORDER_CONFIRMATION")
            for i in range(1, 4)
        )
    for result in results:
        _print(f"  AsyncMailer: {result.status}, queue id {result.queue_id}")


def run() -> int:
    from acumbamail_smtp.testserver import FakeRelay

    # made-up credentials for a relay that only listens on 127.0.0.1
    with FakeRelay(username="demo@example.com", password="demo-password") as relay:  # noqa: S106
        config = relay.client_config(default_from="Demo Shop <shop@example.com>")
        _print(f"Fake relay listening on {relay.host}:{relay.port} (STARTTLS) and "
               f"{relay.host}:{relay.tls_port} (TLS); messages at {relay.http_url}")
        with Mailer(config) as mailer:
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
                {"brand_name": "Demo Shop", "name": "Luis", "confirm_url": "https://shop.example.com/c/xyz"},
                to="luis@example.org", category="SIGNUP",
            )
            _print(f"  Mailer, starter template 'registration_confirmation': {welcome.status}, "
                   f"queue id {welcome.queue_id}")
        asyncio.run(_send_async(config))
        received = relay.wait_for(5)
        _print()
        _print(f"The relay received {len(received)} messages:")
        for item in received:
            parts = "+".join(p.get_content_subtype() for p in item.message.walk()
                             if not p.is_multipart())
            _print(f"  {item.id}  {', '.join(item.rcpt_tos):28} {item.category or '-':20} "
                   f"{item.message['Subject']!s:26} [{parts}]")
    return 0
