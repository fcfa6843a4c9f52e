from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import Message, SQLiteEventStore
from acumbamail_smtp.outbox import Outbox, outbox_for
from acumbamail_smtp.testserver import FakeRelay

from tests.core.conftest import PASSWORD, USERNAME, relay

__all__ = ["PASSWORD", "USERNAME", "relay"]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteEventStore]:
    store = SQLiteEventStore(tmp_path / "events.sqlite3")
    yield store
    store.close()


@pytest.fixture
def outbox(store: SQLiteEventStore) -> Outbox:
    return outbox_for(store)


def message(n: int, **fields: object) -> Message:
    """A small valid message to recipient ``n``."""
    values: dict[str, object] = {"from_email": "shop@example.com", "to": f"user{n}@example.com",
                                 "subject": f"Order {n}", "text": f"Thanks for order {n}."}
    values.update(fields)
    return Message(**values)  # type: ignore[arg-type]


def relay_ids(relay: FakeRelay) -> Counter[str]:
    """How many times the relay accepted each Message-ID."""
    return Counter(str(m.message["Message-ID"]) for m in relay.messages)
