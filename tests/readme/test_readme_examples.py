"""Every ```python block of the README runs, so the documentation cannot drift from the API.

Each block runs as written in a fresh namespace, against a fake relay on 127.0.0.1 with made-up
credentials. A block may use names the surrounding prose defines (``token``, ``mailer``, ``store``,
``app``...): its entry in ``PREPARE`` supplies them and checks what the block did. Where a block
names the real relay (``smtp.acumbamail.com``), its entry rewrites that one piece of text to point at
the fake relay, and fails if the text is no longer there. A block preceded by
``<!-- example: skip REASON -->`` is not run (settings files, several files in one block); the
skip list is pinned below so that it only grows on purpose.
"""

from __future__ import annotations

import ast
import asyncio
import json
import os
import re
import subprocess
import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.templates.starter_contexts import STARTER_CONTEXTS

README = Path(__file__).resolve().parents[2] / "README.md"
TOKEN = "made-up-token-for-the-readme"  # the fake relay's made-up password
ACCOUNT = "you@example.com"
SKIP = re.compile(r"<!--\s*example:\s*skip\s+(?P<reason>.+?)\s*-->")


@dataclass(frozen=True)
class Example:
    """One python block: its first line (the key of ``PREPARE``), its code, its skip reason."""

    line: int
    first: str
    code: str
    skip: str | None


def readme_examples() -> list[Example]:
    """The README's ```python blocks in order."""
    lines = README.read_text(encoding="utf-8").splitlines()
    found: list[Example] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start = i + 1
            end = lines.index("```", start)
            previous = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marker = SKIP.search(previous)
            code = "\n".join(lines[start:end]) + "\n"
            found.append(Example(start + 1, lines[start].strip(), code, marker["reason"] if marker else None))
            i = end
        i += 1
    return found


def rewrite(code: str, old: str, new: str) -> str:
    """``code`` with ``old`` replaced once; fails when the README no longer contains ``old``."""
    assert old in code, f"the README example changed: {old!r} is gone, update the test's rewrite"
    return code.replace(old, new, 1)


def run(code: str, namespace: dict[str, Any]) -> Any:
    """Execute ``code`` in ``namespace``; top-level ``await`` is allowed (the result is awaited)."""
    compiled = compile(code, str(README), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    result = eval(compiled, namespace)  # our own README's code
    if asyncio.iscoroutine(result):
        asyncio.run(result)


@dataclass
class Ctx:
    """What a block's preparation gets: a started relay, a working folder, the namespace."""

    relay: FakeRelay
    tmp: Path
    ns: dict[str, Any]
    monkeypatch: pytest.MonkeyPatch


Prepare = Callable[[Ctx, str], "Iterator[str]"]
PREPARE: dict[str, Prepare] = {}


def prepares(first_line: str) -> Callable[[Prepare], Prepare]:
    """Register the preparation of the block whose first line is ``first_line``: a generator that
    sets up ``ctx.ns``, yields the code to run (the block, maybe rewritten), then checks."""

    def register(function: Prepare) -> Prepare:
        PREPARE[first_line] = function
        return function

    return register


def relay_env(ctx: Ctx, **extra: str) -> None:
    """``ACUMBAMAIL_*`` variables pointing the FastAPI settings at the fake relay."""
    values = {"HOST": ctx.relay.host, "PORT": str(ctx.relay.port), "CA_FILE": ctx.relay.ca_file,
              "USERNAME": ACCOUNT, "AUTH_TOKEN": TOKEN, "WEBHOOK_TOKEN": "made-up-webhook-token",
              "DEFAULT_FROM": "Shop <shop@example.com>", "STORE": str(ctx.tmp / "events.sqlite3"), **extra}
    for name, value in values.items():
        ctx.monkeypatch.setenv(f"ACUMBAMAIL_{name}", value)


@prepares("from acumbamail_smtp import Mailer, Message, RelayConfig")
def _real_relay_config(ctx: Ctx, code: str) -> Iterator[str]:
    ctx.ns.update(token=TOKEN, FAKE_RELAY={"host": ctx.relay.host, "port": ctx.relay.port,
                                           "ca_file": ctx.relay.ca_file})
    yield rewrite(code, "password=token,", "password=token, **FAKE_RELAY,")
    [message] = ctx.relay.wait_for(1)
    assert message.category == "SIGNUP"
    assert ctx.ns["result"].status == "sent"
    assert ctx.ns["result"].queue_id


@prepares("from acumbamail_smtp import Mailer, Message")
def _fake_relay(ctx: Ctx, code: str) -> Iterator[str]:
    yield code  # starts its own relay and asserts on it
    assert ctx.ns["relay"].messages  # the relay object outlives the block's with


@prepares("def test_signup_mail(acumbamail_relay):")
def _pytest_fixture(ctx: Ctx, code: str) -> Iterator[str]:
    from acumbamail_smtp import Mailer, Message

    def send_signup_mail(config: Any) -> None:
        Mailer(config).send(Message(from_email="shop@example.com", to="ana@example.org",
                                    subject="Welcome", text="Hi", category="SIGNUP"))

    ctx.ns["send_signup_mail"] = send_signup_mail
    yield code
    ctx.ns["test_signup_mail"](ctx.relay)


@prepares("from acumbamail_smtp import render")
def _templates(ctx: Ctx, code: str) -> Iterator[str]:
    from acumbamail_smtp import Mailer

    (ctx.tmp / "templates").mkdir()
    ctx.monkeypatch.chdir(ctx.tmp)
    with Mailer(ctx.relay.client_config(default_from="shop@example.com")) as mailer:
        ctx.ns.update(context=STARTER_CONTEXTS["order_confirmation"], mailer=mailer)
        yield code
    assert ctx.ns["rendered"].subject
    [message] = ctx.relay.wait_for(1)
    assert message.category == "ORDER_CONFIRMATION"


@prepares("from datetime import UTC, datetime")
def _reports(ctx: Ctx, code: str) -> Iterator[str]:
    from acumbamail_smtp import Mailer, Message, SQLiteEventStore

    ctx.monkeypatch.chdir(ctx.tmp)
    with SQLiteEventStore(ctx.tmp / "events.sqlite3") as store:
        Mailer(ctx.relay.client_config(), store=store).send(
            Message(from_email="shop@example.com", to="ana@example.org", text="hi", category="ORDER"))
        ctx.ns["store"] = store
        yield code
    assert ctx.ns["total"].sent == 0  # the one recorded send is from today, not May 2024
    assert (ctx.tmp / "recipients.csv").read_text().startswith(("sent_at", "message_id", "recipient"))


@prepares("app.config.update(")
def _flask_settings(ctx: Ctx, code: str) -> Iterator[str]:
    from acumbamail_smtp.integrations.flask import Acumbamail
    from flask import Flask

    relay_env(ctx)
    app = Flask("readme_example", instance_path=str(ctx.tmp / "instance"))
    ctx.ns.update(app=app, os=os)
    yield code
    Acumbamail(app)  # validates the settings the block wrote
    assert app.config["ACUMBAMAIL_DEFAULT_SENDER"] == ("Shop", "shop@example.com")


def _flask_app(ctx: Ctx, **config: Any) -> Any:
    """The README's Flask app (its block run in ``ctx.ns``), created with ``config``."""
    [example] = [e for e in readme_examples() if e.first == "import os" and "create_app" in e.code]
    relay_env(ctx)
    ctx.monkeypatch.chdir(ctx.tmp)
    run(example.code, ctx.ns)
    return ctx.ns["create_app"]({"ACUMBAMAIL_STORE": str(ctx.tmp / "flask.sqlite3"), **config})


@prepares("import os")
def _flask_complete_app(ctx: Ctx, code: str) -> Iterator[str]:
    relay_env(ctx)
    ctx.monkeypatch.chdir(ctx.tmp)
    yield code
    app = ctx.ns["create_app"]({
        "ACUMBAMAIL_HOST": ctx.relay.host, "ACUMBAMAIL_PORT": ctx.relay.port,
        "ACUMBAMAIL_CA_FILE": ctx.relay.ca_file, "ACUMBAMAIL_SUPPRESS_SEND": False,
        "ACUMBAMAIL_STORE": str(ctx.tmp / "flask.sqlite3"),
    })
    client = app.test_client()
    signup = client.post("/signup", data={"email": "ana@example.org", "name": "Ana"})
    receipt = client.post("/receipt", data={"email": "ana@example.org"})
    assert signup.status_code == 200 and signup.json["status"] == "sent", signup.json
    assert receipt.status_code == 200 and receipt.json == {"status": "sent"}, receipt.json
    assert [m.category for m in ctx.relay.wait_for(2)] == ["SIGNUP", "RECEIPT"]


@prepares("def test_signup(app):                                  # app.testing is True: nothing is sent")
def _flask_testing(ctx: Ctx, code: str) -> Iterator[str]:
    app = _flask_app(ctx, TESTING=True)
    yield code
    ctx.ns["test_signup"](app)
    assert ctx.relay.messages == []


@prepares("# from flask_mail import Mail, Message")
def _flask_mail_switch(ctx: Ctx, code: str) -> Iterator[str]:
    from acumbamail_smtp.integrations import flask

    yield code
    assert ctx.ns["Mail"] is flask.Acumbamail and ctx.ns["Message"] is flask.Message


def _fastapi_app(ctx: Ctx) -> Any:
    """The README's FastAPI app (its block run in ``ctx.ns``), configured from the environment."""
    [example] = [e for e in readme_examples() if e.first == "from contextlib import asynccontextmanager"]
    relay_env(ctx)
    run(example.code, ctx.ns)
    return ctx.ns["app"]


async def _with_client(app: Any, use: Callable[[Any], Any]) -> None:
    """``use(client)`` with an httpx client on ``app``, inside the app's lifespan."""
    import httpx

    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            await use(client)


@prepares("from contextlib import asynccontextmanager")
def _fastapi_complete_app(ctx: Ctx, code: str) -> Iterator[str]:
    relay_env(ctx)
    ctx.monkeypatch.chdir(ctx.tmp)
    yield code
    answers: list[Any] = []

    async def use(client: Any) -> None:
        answers.append(await client.post("/signup", json={"email": "ana@example.org", "name": "Ana"}))
        answers.append(await client.post("/receipt", json={"email": "ana@example.org", "name": "Ana"}))

    asyncio.run(_with_client(ctx.ns["app"], use))
    assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
    assert answers[0].json()["status"] == "sent"
    assert answers[1].json()["message_id"]
    assert sorted(m.category for m in ctx.relay.wait_for(2)) == ["RECEIPT", "SIGNUP"]


@prepares("from acumbamail_smtp.integrations.fastapi import record_messages")
def _fastapi_testing(ctx: Ctx, code: str) -> Iterator[str]:
    ctx.monkeypatch.chdir(ctx.tmp)
    app = _fastapi_app(ctx)
    ctx.ns["app"] = app
    yield code
    asyncio.run(_with_client(app, ctx.ns["test_signup"]))
    assert ctx.relay.messages == []


@prepares("from fastapi_mail import ConnectionConfig, MessageSchema, MessageType")
def _from_fastapi_mail(ctx: Ctx, code: str) -> Iterator[str]:
    from fastapi_mail import MessageSchema, MessageType

    templates = ctx.tmp / "templates"
    templates.mkdir()
    (templates / "email.html").write_text("<p>Hi {{ name }}</p>", encoding="utf-8")
    ctx.monkeypatch.chdir(ctx.tmp)
    ctx.ns.update(
        token=TOKEN,
        FAKE_RELAY={"MAIL_SERVER": ctx.relay.host, "MAIL_PORT": ctx.relay.port, "CERT_BUNDLE": ctx.relay.ca_file},
        message=MessageSchema(subject="Hi", recipients=["ana@example.org"], template_body={"name": "Ana"},
                              subtype=MessageType.html),
    )
    code = rewrite(code, 'MAIL_SERVER="smtp.acumbamail.com", MAIL_PORT=587,', "**FAKE_RELAY,")
    yield code + "await fm.aclose()\n"
    [message] = ctx.relay.wait_for(1)
    assert "Hi Ana" in message.html


#: Runs a Django block in a fresh interpreter (Django's settings are process-wide): the settings
#: point the backend at the fake relay; argv: the JSON of settings values, the prelude, the block,
#: the checks.
DJANGO = r"""
import json, sys
import django
from django.conf import settings
values = json.loads(sys.argv[1])
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "acumbamail_smtp.integrations.django"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [values["templates"]]}],
    EMAIL_BACKEND="acumbamail_smtp.integrations.django.EmailBackend", EMAIL_HOST=values["host"],
    EMAIL_PORT=values["port"], EMAIL_HOST_USER=values["username"], EMAIL_HOST_PASSWORD=values["password"],
    DEFAULT_FROM_EMAIL="Shop <shop@example.com>", SECRET_KEY="made-up-for-the-readme-test",
    ACUMBAMAIL={"CA_FILE": values["ca_file"], "STORE": False},
)
django.setup()
namespace = {"__name__": "readme_example"}
for code in sys.argv[2:]:
    exec(compile(code, "README.md", "exec"), namespace)
"""


def run_django(ctx: Ctx, prelude: str, code: str, checks: str) -> None:
    """``prelude``, the block and ``checks`` in a Django process sending to ``ctx.relay``."""
    (ctx.tmp / "django_templates").mkdir(exist_ok=True)
    values = {"host": ctx.relay.host, "port": ctx.relay.port, "ca_file": ctx.relay.ca_file,
              "username": ACCOUNT, "password": TOKEN, "templates": str(ctx.tmp / "django_templates")}
    done = subprocess.run([sys.executable, "-c", DJANGO, json.dumps(values), prelude, code, checks],
                          capture_output=True, text=True, timeout=60, cwd=ctx.tmp, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


@prepares("from django.dispatch import receiver")
def _django_signals(ctx: Ctx, code: str) -> Iterator[str]:
    checks = """
from django.core.mail import EmailMessage
cancelled = EmailMessage("Hi", "hi", to=["nobody@example.invalid"])
assert cancelled.send() == 0 and cancelled.acumbamail_status is None
sent = EmailMessage("Hi", "hi", to=["ana@example.org"])
assert sent.send() == 1 and sent.acumbamail_status.status == "sent"
"""
    run_django(ctx, "", code, checks)
    yield "pass\n"
    [message] = ctx.relay.wait_for(1)
    assert message.category == "UNTAGGED"


@prepares('send_template("password_reset", {"brand_name": "Shop", "name": "Ana", "reset_url": url},')
def _django_templates(ctx: Ctx, code: str) -> Iterator[str]:
    emails = ctx.tmp / "django_templates" / "emails"
    emails.mkdir(parents=True)
    (emails / "receipt.subject.txt").write_text("Receipt {{ order.number }}", encoding="utf-8")
    (emails / "receipt.html").write_text("<p>Order {{ order.number }} is paid.</p>", encoding="utf-8")
    prelude = """
from types import SimpleNamespace
from acumbamail_smtp.integrations.django import send_template
url = "https://shop.example.com/reset/made-up"
order = SimpleNamespace(number="42", email="ana@example.org")
"""
    run_django(ctx, prelude, code, "")
    yield "pass\n"
    messages = ctx.relay.wait_for(2)
    assert [m.category for m in messages] == ["PASSWORD_RECOVERY", "RECEIPT"]
    assert messages[1].subject == "Receipt 42"


@prepares("from acumbamail_smtp import Mailer, Message, RelayConfig, SQLiteEventStore")
def _outbox(ctx: Ctx, code: str) -> Iterator[str]:
    ctx.monkeypatch.chdir(ctx.tmp)
    relay_env(ctx)
    yield code
    [message] = ctx.relay.wait_for(1)
    assert message.rcpt_tos == ["ana@example.org"]
    assert ctx.ns["report"].sent == 1 and ctx.ns["outbox"].stats().sent == 1


#: The blocks that cannot run on their own, and why (the README says so in the marker).
EXPECTED_SKIPS = 8  # +1 Django background-sending settings, +2 Celery and FastAPI background blocks


def test_skipped_examples_say_why_and_stay_few() -> None:
    skipped = [e for e in readme_examples() if e.skip]
    assert all(len(e.skip or "") > 10 for e in skipped), skipped
    assert len(skipped) == EXPECTED_SKIPS, [(e.line, e.skip) for e in skipped]


def test_every_example_that_runs_has_a_known_first_line() -> None:
    """A new block needs no entry to run; one whose first line is shared would be ambiguous."""
    firsts = [e.first for e in readme_examples() if not e.skip]
    assert len(firsts) == len(set(firsts)), firsts
    assert set(PREPARE) <= set(firsts), set(PREPARE) - set(firsts)


@pytest.mark.parametrize("example", [e for e in readme_examples() if not e.skip],
                         ids=lambda e: f"line{e.line}")
def test_readme_example_runs(example: Example, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A real module, so that frameworks resolving annotations by module name (FastAPI, pydantic)
    # and Flask's root path find it.
    module = types.ModuleType("readme_example")
    module.__file__ = str(tmp_path / "readme_example.py")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    with FakeRelay(username=ACCOUNT, password=TOKEN) as relay:
        ctx = Ctx(relay, tmp_path, vars(module), monkeypatch)
        prepare = PREPARE.get(example.first)
        if prepare is None:
            run(example.code, ctx.ns)
            return
        steps = prepare(ctx, example.code)
        run(next(steps), ctx.ns)
        for _ in steps:  # the checks after the block
            pass


def test_readme_examples_are_found() -> None:
    firsts = [e.first for e in readme_examples()]
    assert len(firsts) >= 15
    assert "from acumbamail_smtp import Mailer, Message, RelayConfig" in firsts
