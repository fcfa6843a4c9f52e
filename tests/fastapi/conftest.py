from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from acumbamail_smtp import RelayConfig
from acumbamail_smtp.testserver import FakeRelay

from tests.fastapi.helpers import PASSWORD, SENDER, USERNAME


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ACUMBAMAIL_* variable or .env file of the machine leaks into a test."""
    for name in list(os.environ):
        if name.upper().startswith("ACUMBAMAIL_"):
            monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD) as server:
        yield server


@pytest.fixture
def config(relay: FakeRelay) -> RelayConfig:
    return relay.client_config(default_from=SENDER)


@pytest.fixture
def relay_env(relay: FakeRelay, monkeypatch: pytest.MonkeyPatch) -> FakeRelay:
    """ACUMBAMAIL_* variables that point at the fake relay."""
    for name, value in {"HOST": relay.host, "PORT": str(relay.port), "USERNAME": USERNAME,
                        "PASSWORD": PASSWORD, "SECURITY": "starttls", "CA_FILE": relay.ca_file,
                        "DEFAULT_FROM": SENDER}.items():
        monkeypatch.setenv(f"ACUMBAMAIL_{name}", value)
    return relay
