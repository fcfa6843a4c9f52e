from __future__ import annotations

from collections.abc import Iterator

import pytest
from acumbamail_smtp.testserver import FakeRelay

USERNAME = "tester@example.com"
PASSWORD = "made-up-Secret-42"  # not a real credential: the fake relay checks it


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD) as server:
        yield server
