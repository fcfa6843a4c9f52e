"""The webhook blueprint: real HTTP requests in Acumbamail's format, through the Flask test client
and, end to end, from the fake relay to a live server."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import ConfigError, Event, EventType, RecipientsRefused, SQLiteEventStore
from acumbamail_smtp.integrations.flask import Acumbamail, Message, tracking_event
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask

from .conftest import TOKEN, relay_settings


def event(email: str, name: str = "hard_bounces", key: str = "ABC123", **extra: Any) -> dict[str, Any]:
    return {"email_key": key, "timestamp": time.time(), "email": email, "event": name,
            "campaign_id": None, "list_id": None, "subscriber_fields": {}, **extra}


def batch(*events: dict[str, Any]) -> bytes:
    return json.dumps({str(i): e for i, e in enumerate(events, 1)}).encode()


@pytest.fixture
def hooked(app: Flask, mail: Acumbamail) -> Flask:
    app.config["ACUMBAMAIL_WEBHOOK_TOKEN"] = TOKEN
    app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
    return app


def test_events_are_stored_and_signalled(hooked: Flask, mail: Acumbamail) -> None:
    seen: list[tuple[Any, Event]] = []

    def listener(sender: Any, event: Event) -> None:
        seen.append((sender, event))

    body = batch(event("gone@example.net"), event("ana@example.net", "opens", key="DEF"))
    with tracking_event.connected_to(listener, sender=hooked):
        response = hooked.test_client().post(f"/acumbamail/webhook/{TOKEN}", data=body,
                                             content_type="application/json")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "received": 2, "stored": 2, "duplicates": 0,
                                   "suppressed": 1}
    assert [(s, e.type, e.recipient) for s, e in seen] == [
        (hooked, EventType.HARD_BOUNCE, "gone@example.net"), (hooked, EventType.OPENED, "ana@example.net")]
    with hooked.app_context():
        store = mail.store
        assert store is not None
        assert [e.type for e in store.events()] == [EventType.HARD_BOUNCE, EventType.OPENED]
        assert store.suppressed(["gone@example.net", "ana@example.net"]) == {"gone@example.net"}
    assert (Path(hooked.instance_path) / "acumbamail-events.sqlite3").is_file()
    again = hooked.test_client().post(f"/acumbamail/webhook/{TOKEN}", data=body, content_type="application/json")
    assert again.get_json()["duplicates"] == 2


def test_the_token_may_come_in_the_query(hooked: Flask) -> None:
    client = hooked.test_client()
    assert client.post(f"/acumbamail/webhook?token={TOKEN}", data=batch(event("a@example.net"))).status_code == 200


@pytest.mark.parametrize(("url", "status"), [
    ("/acumbamail/webhook", 401),
    ("/acumbamail/webhook/made-up-wrong-token", 403),
    ("/acumbamail/webhook?token=made-up-wrong-token", 403),
])
def test_wrong_or_missing_token_is_refused_and_nothing_stored(hooked: Flask, mail: Acumbamail,
                                                              url: str, status: int) -> None:
    response = hooked.test_client().post(url, data=batch(event("a@example.net")), content_type="application/json")
    assert response.status_code == status
    assert TOKEN not in response.get_data(as_text=True)
    with hooked.app_context():
        assert mail.store is not None and list(mail.store.events()) == []


def test_bad_bodies_get_400_and_413(hooked: Flask) -> None:
    client = hooked.test_client()
    url = f"/acumbamail/webhook/{TOKEN}"
    bad = client.post(url, data=b"{not json", content_type="application/json")
    assert bad.status_code == 400 and "JSON" in bad.get_json()["error"]
    assert client.post(url, data=b"", content_type="application/json").status_code == 400
    hooked.config["ACUMBAMAIL_WEBHOOK_MAX_BODY"] = 64
    large = client.post(url, data=batch(event("a@example.net")), content_type="application/json")
    assert large.status_code == 413


def test_only_post_is_routed(hooked: Flask) -> None:
    assert hooked.test_client().get(f"/acumbamail/webhook/{TOKEN}").status_code == 405


def test_basic_auth_and_form_bodies(hooked: Flask) -> None:
    hooked.config.update(ACUMBAMAIL_WEBHOOK_TOKEN=None, ACUMBAMAIL_WEBHOOK_BASIC_AUTH="acumbamail:made-up-pass")
    client = hooked.test_client()
    form = {"email": "a@example.net", "event": "complaints", "timestamp": str(time.time())}
    missing = client.post("/acumbamail/webhook", data=form)
    assert missing.status_code == 401 and "Basic" in missing.headers["WWW-Authenticate"]
    good = base64.b64encode(b"acumbamail:made-up-pass").decode()
    ok = client.post("/acumbamail/webhook", data=form, headers={"Authorization": f"Basic {good}"})
    assert ok.status_code == 200 and ok.get_json()["stored"] == 1


def test_without_verification_settings_the_endpoint_names_the_key(app: Flask, mail: Acumbamail) -> None:
    with pytest.raises(ConfigError) as caught:  # refused at startup, not at the first post
        app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
    assert caught.value.field == "ACUMBAMAIL_WEBHOOK_TOKEN"
    assert "acumbamail" not in app.blueprints
    app.config["ACUMBAMAIL_WEBHOOK_INSECURE"] = "true"
    app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
    assert app.test_client().post("/acumbamail/webhook", data=batch(event("a@example.net"))).status_code == 200


def test_configured_store_path_and_store_object(make_app: Any, tmp_path: Path, relay: FakeRelay) -> None:
    mail = Acumbamail()
    by_path = make_app(**relay_settings(relay), ACUMBAMAIL_STORE="events/mail.sqlite3",
                       ACUMBAMAIL_WEBHOOK_TOKEN=TOKEN)
    own = SQLiteEventStore(tmp_path / "own.sqlite3")
    by_object = make_app("object_app", **relay_settings(relay), ACUMBAMAIL_STORE=own,
                         ACUMBAMAIL_WEBHOOK_TOKEN=TOKEN)
    for app in (by_path, by_object):
        mail.init_app(app)
        app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
        response = app.test_client().post(f"/acumbamail/webhook/{TOKEN}", data=batch(event("x@example.net")))
        assert response.status_code == 200
    assert (Path(by_path.instance_path) / "events" / "mail.sqlite3").is_file()
    assert not (Path(by_path.instance_path) / "acumbamail-events.sqlite3").exists()
    assert [e.recipient for e in own.events()] == ["x@example.net"]
    with by_object.app_context():
        assert mail.store is own
        with pytest.raises(RecipientsRefused):
            mail.send(Message("Hi", recipients=["x@example.net"], body="x"))
    by_path.config["ACUMBAMAIL_STORE"] = 42
    with by_path.app_context(), pytest.raises(ConfigError, match="ACUMBAMAIL_STORE"):
        mail.send(Message("Hi", recipients=["x@example.net"], body="x"))


def test_end_to_end_a_hard_bounce_suppresses_the_next_message(make_app: Any, flask_server: Any) -> None:
    """Issue acceptance: the relay bounces an address and posts the event over real HTTP to the
    app's endpoint on 127.0.0.1; the app stores it; the next message to that address is not sent."""
    mail = Acumbamail()
    app = make_app("live_app", ACUMBAMAIL_WEBHOOK_TOKEN=TOKEN, ACUMBAMAIL_DEFAULT_CATEGORY="WELCOME")
    mail.init_app(app)
    app.register_blueprint(mail.webhook_blueprint, url_prefix="/acumbamail")
    events: list[Event] = []

    def listener(sender: Any, event: Event) -> None:
        events.append(event)

    base = flask_server(app)
    with tracking_event.connected_to(listener, sender=app), FakeRelay(username="live@example.com", password="made-up-live",
                   webhook_url=f"{base}/acumbamail/webhook/{TOKEN}") as relay:
        app.config.update(relay_settings(relay, ACUMBAMAIL_DEFAULT_CATEGORY="WELCOME"))
        relay.hard_bounce("gone@example.net", at="async")  # accepted now, bounced later
        with app.app_context():
            first = mail.send(Message("Welcome", recipients=["gone@example.net", "ana@example.net"], body="x"))
        assert first.status == "sent"
        relay.flush_webhooks()
        assert {d.status for d in relay.webhook_deliveries} == {200}
        bounce = next(e for e in events if e.type is EventType.HARD_BOUNCE)
        assert bounce.recipient == "gone@example.net"
        assert bounce.message_key == first.queue_id
        assert (bounce.category, bounce.message_id) == ("WELCOME", first.message_id)

        with app.app_context():
            with pytest.raises(RecipientsRefused) as caught:
                mail.send(Message("Again", recipients=["gone@example.net"], body="x"))
            mixed = mail.send(Message("Both", recipients=["gone@example.net", "ana@example.net"], body="x"))
        assert caught.value.result.suppressed == ["gone@example.net"]
        assert mixed.status == "partially_refused" and mixed.suppressed == ["gone@example.net"]
        received = relay.wait_for(2)
        assert [m.subject for m in received] == ["Welcome", "Both"]
        assert received[1].rcpt_tos == ["ana@example.net"]


def test_soft_bounce_limit_setting_reaches_the_receiver(hooked: Flask, mail: Acumbamail) -> None:
    client = hooked.test_client()
    url = f"/acumbamail/webhook/{TOKEN}"
    assert client.post(url, data=batch(event("soft@example.net", "soft_bounces", key="K1"))).get_json()["suppressed"] == 0
    hooked.config["ACUMBAMAIL_SOFT_BOUNCE_LIMIT"] = "2"
    assert client.post(url, data=batch(event("soft@example.net", "soft_bounces", key="K2"))).get_json()["suppressed"] == 1
    with hooked.app_context():
        assert mail.store is not None and mail.store.suppressed(["soft@example.net"]) == {"soft@example.net"}
