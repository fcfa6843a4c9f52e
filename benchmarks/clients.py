"""One benchmark client per scenario, run in its own process pinned to one core by ``run.py``.

``python benchmarks/clients.py SCENARIO PORT COUNT SECONDS`` sends the same small text+HTML
message with a category and one recipient, at most COUNT times or for SECONDS, and prints one
JSON line: messages sent, wall time, CPU time and peak RSS of this process.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import smtplib
import sys
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

HOST = "127.0.0.1"
USER = "bench@example.com"
PASSWORD = "made-up-bench-password"  # the sinks accept any credentials
SENDER = "Shop <shop@example.com>"
TO = "customer@example.org"
SUBJECT = "Your order 12345 has shipped"
TEXT = (
    "Hello Ana,\n\nYour order 12345 is on its way. Track it at https://shop.example.com/t/12345\n\nThanks!\n"
)
HTML = (
    "<html><body><p>Hello Ana,</p><p>Your order <b>12345</b> is on its way. "
    '<a href="https://shop.example.com/t/12345">Track it</a>.</p><p>Thanks!</p></body></html>'
)
CATEGORY = "ORDER_SHIPPED"


def stdlib_message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, TO, SUBJECT
    msg["ACUMBAMAIL-SMTPAPI"] = CATEGORY
    msg.set_content(TEXT)
    msg.add_alternative(HTML, subtype="html")
    return msg


def ours_config(port: int) -> Any:
    from acumbamail_smtp import RelayConfig

    return RelayConfig(
        host=HOST,
        port=port,
        username=USER,
        password=PASSWORD,
        security="none",
        allow_insecure=True,
        timeout=30.0,
        local_hostname="bench.example.com",
    )


def ours_message() -> Any:
    from acumbamail_smtp import Message

    return Message(from_email=SENDER, to=TO, subject=SUBJECT, text=TEXT, html=HTML, category=CATEGORY)


def bounded(count: int, seconds: float, batch: int = 1) -> Callable[[], bool]:
    """A loop condition: True while under ``count`` batches and ``seconds``."""
    deadline = time.perf_counter() + seconds
    state = {"n": 0}

    def more() -> bool:
        state["n"] += batch
        return state["n"] <= count and time.perf_counter() < deadline

    return more


# -- synchronous scenarios: each returns how many messages it sent --------------------------


def smtplib_prebuilt(port: int, count: int, seconds: float) -> int:
    data = stdlib_message().as_bytes()
    sent = 0
    with smtplib.SMTP(HOST, port, local_hostname="bench.example.com") as smtp:
        smtp.login(USER, PASSWORD)
        more = bounded(count, seconds)
        while more():
            smtp.sendmail("shop@example.com", [TO], data)
            sent += 1
    return sent


def django_reused(port: int, count: int, seconds: float) -> int:
    import django
    from django.conf import settings

    settings.configure(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=HOST,
        EMAIL_PORT=port,
        EMAIL_HOST_USER=USER,
        EMAIL_HOST_PASSWORD=PASSWORD,
    )
    django.setup()
    from django.core.mail import EmailMultiAlternatives, get_connection

    connection = get_connection()
    connection.open()
    sent = 0
    more = bounded(count, seconds)
    while more():
        mail = EmailMultiAlternatives(
            SUBJECT, TEXT, SENDER, [TO], headers={"ACUMBAMAIL-SMTPAPI": CATEGORY}, connection=connection
        )
        mail.attach_alternative(HTML, "text/html")
        sent += mail.send()
    connection.close()
    return sent


def flask_mail_reused(port: int, count: int, seconds: float) -> int:
    from flask import Flask
    from flask_mail import Mail
    from flask_mail import Message as FlaskMessage

    app = Flask("bench")
    app.config.update(
        MAIL_SERVER=HOST,
        MAIL_PORT=port,
        MAIL_USERNAME=USER,
        MAIL_PASSWORD=PASSWORD,
        MAIL_USE_TLS=False,
        MAIL_USE_SSL=False,
    )
    mail = Mail(app)
    sent = 0
    with app.app_context(), mail.connect() as conn:
        more = bounded(count, seconds)
        while more():
            conn.send(
                FlaskMessage(
                    SUBJECT,
                    sender=SENDER,
                    recipients=[TO],
                    body=TEXT,
                    html=HTML,
                    extra_headers={"ACUMBAMAIL-SMTPAPI": CATEGORY},
                )
            )
            sent += 1
    return sent


def ours_sync(port: int, count: int, seconds: float) -> int:
    from acumbamail_smtp import Mailer

    sent = 0
    with Mailer(ours_config(port)) as mailer:
        more = bounded(count, seconds, 200)
        while more():
            sent += sum(r.ok for r in mailer.send_many(ours_message() for _ in range(200)))
    return sent


def ours_iter(port: int, count: int, seconds: float) -> int:
    """Mailer.iter_send over a generator of ``count`` messages (the memory target)."""
    from acumbamail_smtp import Mailer

    with Mailer(ours_config(port)) as mailer:
        return sum(r.ok for r in mailer.iter_send(ours_message() for _ in range(count)))


# -- asynchronous scenarios ------------------------------------------------------------------


async def aiosmtplib_8(port: int, count: int, seconds: float) -> int:
    import aiosmtplib

    more = bounded(count, seconds)

    async def worker() -> int:
        smtp = aiosmtplib.SMTP(
            hostname=HOST, port=port, start_tls=False, use_tls=False, local_hostname="bench.example.com"
        )
        await smtp.connect()
        await smtp.login(USER, PASSWORD)
        sent = 0
        while more():
            await smtp.send_message(stdlib_message())
            sent += 1
        await smtp.quit()
        return sent

    return sum(await asyncio.gather(*(worker() for _ in range(8))))


async def fastapi_mail_8(port: int, count: int, seconds: float) -> int:
    from fastapi_mail import ConnectionConfig, FastMail, MessageSchema, MessageType

    config = ConnectionConfig(
        MAIL_USERNAME=USER,
        MAIL_PASSWORD=PASSWORD,
        MAIL_FROM="shop@example.com",
        MAIL_FROM_NAME="Shop",
        MAIL_PORT=port,
        MAIL_SERVER=HOST,
        MAIL_STARTTLS=False,
        MAIL_SSL_TLS=False,
        USE_CREDENTIALS=True,
        VALIDATE_CERTS=False,
    )
    fm = FastMail(config)
    more = bounded(count, seconds, 8)
    sent = 0
    while more():
        await asyncio.gather(
            *(
                fm.send_message(
                    MessageSchema(
                        subject=SUBJECT,
                        recipients=[TO],
                        body=HTML,
                        alternative_body=TEXT,
                        subtype=MessageType.html,
                        headers={"ACUMBAMAIL-SMTPAPI": CATEGORY},
                    )
                )
                for _ in range(8)
            )
        )
        sent += 8
    return sent


async def _ours_async(port: int, count: int, seconds: float, pool: int) -> int:
    from acumbamail_smtp import AsyncMailer

    more = bounded(count, seconds, 400)
    sent = 0
    async with AsyncMailer(ours_config(port), pool_size=pool) as mailer:
        while more():
            sent += sum(r.ok for r in await mailer.send_many([ours_message() for _ in range(400)]))
    return sent


async def ours_async_8(port: int, count: int, seconds: float) -> int:
    return await _ours_async(port, count, seconds, 8)


async def ours_async_16(port: int, count: int, seconds: float) -> int:
    return await _ours_async(port, count, seconds, 16)


SCENARIOS: dict[str, Callable[[int, int, float], Any]] = {
    f.__name__: f
    for f in (
        smtplib_prebuilt,
        django_reused,
        flask_mail_reused,
        ours_sync,
        ours_iter,
        aiosmtplib_8,
        fastapi_mail_8,
        ours_async_8,
        ours_async_16,
    )
}


def main() -> None:
    name, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    scenario = SCENARIOS[name]
    start_cpu = time.process_time()
    start = time.perf_counter()
    result = scenario(port, count, seconds)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    wall = time.perf_counter() - start
    cpu = time.process_time() - start_cpu
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"sent": result, "wall": wall, "cpu": cpu, "rss_kb": rss_kb, "pid": os.getpid()}))


if __name__ == "__main__":
    main()
