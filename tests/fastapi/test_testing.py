"""Test helpers: record_messages() and RecordingMailer capture instead of sending, validating first."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import InvalidMessage, Message, RecipientsRefused, RelayConfig, SQLiteEventStore
from acumbamail_smtp.integrations.fastapi import (
    MailerDep,
    RecordingMailer,
    acumbamail_lifespan,
    get_mailer,
    record_messages,
)
from acumbamail_smtp.testserver import FakeRelay
from fastapi import FastAPI
from fastapi_mail import MessageSchema, MessageType

from tests.fastapi.helpers import SENDER, running


def app_for(config: RelayConfig, template_folder: Path | None = None) -> FastAPI:
    from acumbamail_smtp.integrations.fastapi import FastAPIMailer

    mailer = FastAPIMailer(config, template_folder=template_folder)
    app = FastAPI(lifespan=lambda app: acumbamail_lifespan(app, mailer=mailer))

    @app.post("/all")
    async def send_all(mailer: MailerDep) -> list[str]:
        results = [
            await mailer.send(Message(to="ana@example.org", subject="core", text="t", category="SIGNUP")),
            await mailer.send(MessageSchema(subject="schema", recipients=["bob@example.org"], body="<p>b</p>",
                                            subtype=MessageType.html)),
            await mailer.send_template("note", {"who": "Carla"}, to="carla@example.org"),
        ]
        return [r.status for r in results]

    @app.post("/invalid")
    async def invalid(mailer: MailerDep) -> None:
        await mailer.send(Message(to="ana@example.org", subject="s"))  # no body

    return app


async def test_record_messages_captures_and_sends_nothing(relay: FakeRelay, config: RelayConfig,
                                                          tmp_path: Path) -> None:
    (tmp_path / "note.html").write_text("{% block subject %}Note for {{ who }}{% endblock %}"
                                        "{% block html %}<p>{{ who }}</p>{% endblock %}")
    app = app_for(config, tmp_path)
    async with running(app) as client:
        with record_messages(app) as outbox:
            assert (await client.post("/all")).json() == ["sent"] * 3
            with pytest.raises(InvalidMessage, match="no body"):
                await client.post("/invalid")
        assert [m.subject for m in outbox] == ["core", "schema", "Note for Carla"]
        assert outbox[0].category == "SIGNUP" and outbox[1].html == "<p>b</p>"
        assert all(m.send_result is not None and m.send_result.queue_id for m in outbox)
        assert relay.messages == [] and relay.sessions == 0
        # outside the block the real mailer is back
        assert (await client.post("/all")).json() == ["sent"] * 3
    assert len(relay.wait_for(3)) == 3
    assert get_mailer not in app.dependency_overrides


async def test_recorded_messages_use_the_apps_defaults(config: RelayConfig) -> None:
    app = app_for(config)

    @app.post("/default-from")
    async def default_from(mailer: MailerDep) -> Any:
        await mailer.send(Message(to="ana@example.org", subject="s", text="t"))

    async with running(app) as client:
        with record_messages(app) as outbox:
            await client.post("/default-from")
    [message] = outbox
    assert message.from_email is None  # filled in by the config when prepared
    assert message.send_result is not None
    assert message.send_result.accepted == ["ana@example.org"]


async def test_a_recording_mailer_as_a_plain_override_with_suppression(tmp_path: Path) -> None:
    with SQLiteEventStore(tmp_path / "s.sqlite3") as store:
        store.suppress("gone@example.org", "complaint")
        recorder = RecordingMailer(RelayConfig(default_from=SENDER), store=store)
        app = FastAPI()

        @app.post("/send")
        async def send(mailer: MailerDep, to: str) -> dict[str, Any]:
            try:
                return {"status": (await mailer.send(Message(to=to, subject="s", text="t"))).status}
            except RecipientsRefused as exc:
                return {"status": exc.result.status, "suppressed": exc.result.suppressed}

        app.dependency_overrides[get_mailer] = lambda: recorder
        async with running(app, lifespan=False) as client:
            assert (await client.post("/send", params={"to": "gone@example.org"})).json() == \
                {"status": "refused", "suppressed": ["gone@example.org"]}
            assert (await client.post("/send", params={"to": "ana@example.org"})).json() == {"status": "sent"}
        assert [m.to for m in recorder.outbox] == ["ana@example.org"]
        [prepared] = recorder.prepared
        assert prepared.envelope_from == "shop@example.com" and b"Subject: s" in prepared.data
        # the one answer for every test mode: suppression applies, nothing is recorded (nothing was sent)
        assert list(store.sends()) == []


def test_the_recording_mailer_is_the_core_mailer_with_a_recording_connection() -> None:
    from acumbamail_smtp.integrations.fastapi import mailer, testing
    from acumbamail_smtp.smtp import AsyncRecordingConnection

    recorder = RecordingMailer(RelayConfig(default_from=SENDER))
    assert isinstance(recorder.connection, AsyncRecordingConnection)
    assert recorder.prepared is recorder.connection.prepared
    assert testing.RecordingMailer is mailer.RecordingMailer


def test_production_modules_never_import_the_test_helpers() -> None:
    import ast

    import acumbamail_smtp.integrations.fastapi as package

    folder = Path(package.__file__).parent
    imports: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        found = imports.setdefault(path.stem, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):  # function-level ones too
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    for name in ("dependencies", "interop", "mailer", "schema"):
        assert "testing" not in imports[name], name

    def reaches(start: str, seen: set[str]) -> set[str]:
        for other in imports.get(start, set()) - seen:
            seen.add(other)
            reaches(other, seen)
        return seen

    assert [m for m in imports if m != "__init__" and m in reaches(m, set())] == []  # no import circles
