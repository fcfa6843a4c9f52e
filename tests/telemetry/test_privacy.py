"""No span, event or metric attribute holds the password, the webhook token or (unless the app
opts in) an address, after sends that succeed, fail at AUTH, get refused, and webhook posts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp import (
    AuthenticationError,
    Mailer,
    Message,
    RecipientsRefused,
    SQLiteEventStore,
    WebhookReceiver,
    WebhookVerifier,
)
from acumbamail_smtp.telemetry import hooks
from acumbamail_smtp.testserver import FakeRelay

from tests.webhooks.helpers import TOKEN, acumba, batch

from .conftest import ADDRESS, PASSWORD, USERNAME, Otel, start


def everything(otel: Otel, relay: FakeRelay, store: SQLiteEventStore) -> list[str]:
    """Run sends and posts that put addresses and secrets in play; every recorded attribute value."""
    mailer = Mailer(relay.client_config())
    mailer.send(Message(subject="s", text="t", from_email="app@example.com", to="ana@example.org"))
    relay.hard_bounce("bad@example.org")
    with pytest.raises(RecipientsRefused):
        mailer.send(Message(subject="s", text="t", from_email="app@example.com", to="bad@example.org"))
    relay.fail_auth()
    with pytest.raises(AuthenticationError):
        Mailer(relay.client_config(max_tries=1)).send(
            Message(subject="s", text="t", from_email="app@example.com", to="ana@example.org"))
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
    receiver.handle(batch(acumba("delivered", "ana@example.org")), content_type="application/json",
                    path_token=TOKEN)
    receiver.handle(b"{}", content_type="application/json", path_token="not-" + TOKEN)
    values: list[Any] = []
    for span in otel.spans():
        values += [span.name, *(span.attributes or {}).values(), span.status.description]
        for event in span.events:
            values += [event.name, *(event.attributes or {}).values()]
    for name, points in otel.points().items():
        values.append(name)
        for point in points:
            values += [*point.attributes.keys(), *point.attributes.values()]
    assert len(otel.spans()) == 5
    return [str(v) for v in values]


def test_no_secret_and_no_address_by_default(otel: Otel, relay: FakeRelay, tmp_path: Path) -> None:
    values = everything(otel, relay, SQLiteEventStore(tmp_path / "events.sqlite3"))
    assert not [v for v in values if PASSWORD in v or TOKEN in v or USERNAME in v]
    assert not [v for v in values if ADDRESS.search(v)]


def test_addresses_only_when_the_app_opts_in(monkeypatch: pytest.MonkeyPatch, relay: FakeRelay,
                                             tmp_path: Path) -> None:
    monkeypatch.setattr(hooks, "_instruments", hooks._UNSET)
    values = everything(start(record_addresses=True), relay, SQLiteEventStore(tmp_path / "events.sqlite3"))
    assert any("ana@example.org" in v for v in values)
    assert not [v for v in values if PASSWORD in v or TOKEN in v]
