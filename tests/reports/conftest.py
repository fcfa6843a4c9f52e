"""The report tests' data: one scripted run through the whole pipeline.

The mailer sends through the fake relay with ``store=`` (so sends are recorded); the relay posts
its Acumbamail-shaped webhooks to a real HTTP receiver on 127.0.0.1 (``WebhookReceiver.handle``),
which stores them. What each recipient went through, and so every expected number, is in
:data:`EXPECTED` and the comments of :func:`run_scenario`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from acumbamail_smtp import Mailer, Message, SendResult, SQLiteEventStore, WebhookReceiver, WebhookVerifier
from acumbamail_smtp.store.sqlite import EventStore
from acumbamail_smtp.testserver import FakeRelay

from tests.browser import browser  # noqa: F401 (the shared headless Chromium fixture)
from tests.webhooks.http_receiver import WebhookHTTPServer

TOKEN = "reports-test-token-5b0e9c2d"
SENDER = "shop@example.com"
URL1 = "https://shop.example.com/welcome?utm=mail"
URL2 = "https://shop.example.com/orders/42"


def addr(name: str) -> str:
    return f"{name}@example.org"


#: Expected counts, by the definitions in acumbamail_smtp.reports.queries (see run_scenario).
EXPECTED = {
    None: dict(sent=9, delivered=7, opened=4, opens=5, unopened=3, clicked=3, clicks=4,
               hard_bounces=1, soft_bounces=1, complaints=1, refused=1, suppressed=1),
    "SIGNUP": dict(sent=3, delivered=3, opened=2, opens=4, unopened=1, clicked=1, clicks=2,
                   hard_bounces=0, soft_bounces=0, complaints=0, refused=0, suppressed=0),
    "ORDER": dict(sent=4, delivered=2, opened=1, opens=0, unopened=1, clicked=1, clicks=1,
                  hard_bounces=1, soft_bounces=1, complaints=1, refused=0, suppressed=0),
    "RESET": dict(sent=1, delivered=1, opened=0, opens=0, unopened=1, clicked=0, clicks=0,
                  hard_bounces=0, soft_bounces=0, complaints=0, refused=1, suppressed=1),
    "": dict(sent=1, delivered=1, opened=1, opens=1, unopened=0, clicked=1, clicks=1,
             hard_bounces=0, soft_bounces=0, complaints=0, refused=0, suppressed=0),
}
#: Accepted recipients per status filter.
BY_STATUS = {
    "all": {"a", "b", "c", "d", "e", "f", "g", "h", "j"},
    "opened": {"a", "b", "d", "h"},
    "not_opened": {"c", "e", "j"},
    "clicked": {"a", "d", "h"},
    "hard_bounce": {"f"},
    "soft_bounce": {"g"},
    "complaint": {"e"},
}
#: The type of each accepted recipient's latest event.
LAST_STATUS = {"a": "clicked", "b": "opened", "c": "delivered", "d": "clicked", "e": "complaint",
               "f": "hard_bounce", "g": "soft_bounce", "h": "clicked", "j": "delivered"}


@dataclass
class Scenario:
    store: EventStore
    results: list[SendResult]
    #: A moment after the SIGNUP messages and before all the others were sent.
    midpoint: datetime


def run_scenario(store: EventStore) -> Scenario:
    receiver = WebhookReceiver(store, WebhookVerifier(token=TOKEN))
    with WebhookHTTPServer(receiver) as server, FakeRelay(webhook_url=server.url(TOKEN)) as relay:
        store.suppress(addr("k"), "manual")            # k: skipped by the mailer
        relay.hard_bounce(addr("f"), at="async")       # f: accepted, then hard bounce
        relay.soft_bounce(addr("g"), at="async")       # g: accepted, then soft bounce
        relay.hard_bounce(addr("i"))                   # i: refused at RCPT (its bounce is not counted)
        results = []
        with Mailer(relay.client_config(), store=store) as mailer:
            for name in "abc":
                results.append(mailer.send(Message(SENDER, addr(name), "Welcome", "Hi", category="SIGNUP")))
            midpoint = datetime.now(UTC)
            results.append(mailer.send(Message(SENDER, [addr("d"), addr("e")], "Order", "Thanks",
                                               category="ORDER")))
            for name in "fg":
                results.append(mailer.send(Message(SENDER, addr(name), "Order", "Thanks", category="ORDER")))
            results.append(mailer.send(Message(SENDER, addr("h"), "Note", "Hello")))  # no category
            results.append(mailer.send(Message(SENDER, [addr("i"), addr("j"), addr("k")], "Reset", "Code",
                                               category="RESET")))
        for _ in range(3):
            relay.emit_open(addr("a"))                 # a: opened 3 times, clicked URL1 twice
        relay.emit_click(addr("a"), URL1)
        relay.emit_click(addr("a"), URL1)
        relay.emit_open(addr("b"))                     # b: opened once; c: delivered, never opened
        relay.emit_click(addr("d"), URL1)              # d: clicked without an open (images blocked)
        relay.emit_complaint(addr("e"))                # e: delivered, then marked as spam
        relay.emit_open(addr("h"))                     # h (no category): opened, clicked URL2
        relay.emit_click(addr("h"), URL2)
        relay.flush_webhooks()                         # j (RESET): delivered, never opened
        assert all(status == 200 for status, _ in relay.webhook_deliveries)
    return Scenario(store, results, midpoint)


@pytest.fixture(scope="session")
def scenario_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The scenario stored in a SQLite file (built once, then only read)."""
    path = tmp_path_factory.mktemp("reports") / "events.sqlite3"
    with SQLiteEventStore(path) as store:
        scenario = run_scenario(store)
    _MIDPOINTS[str(path)] = scenario.midpoint
    return path


_MIDPOINTS: dict[str, datetime] = {}


@pytest.fixture(scope="session")
def midpoint(scenario_path: Path) -> datetime:
    return _MIDPOINTS[str(scenario_path)]


@pytest.fixture
def store(scenario_path: Path) -> Iterator[SQLiteEventStore]:
    with SQLiteEventStore(scenario_path) as store:
        yield store


