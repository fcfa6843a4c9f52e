"""Fixtures for the Flask extension's tests: a fake relay, apps configured for it, a live server."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp.integrations.flask import Acumbamail
from acumbamail_smtp.testserver import FakeRelay
from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server

USERNAME = "flask-tester@example.com"
PASSWORD = "made-up-Flask-Secret-77"  # not a real credential: the fake relay checks it
TOKEN = "made-up-webhook-token-5f3a"


def relay_settings(relay: FakeRelay, **extra: Any) -> dict[str, Any]:
    """``ACUMBAMAIL_*`` settings reaching ``relay`` (STARTTLS, trusting its CA)."""
    return {
        "ACUMBAMAIL_HOST": relay.host,
        "ACUMBAMAIL_PORT": relay.port,
        "ACUMBAMAIL_USERNAME": relay.username,
        "ACUMBAMAIL_PASSWORD": relay.password,
        "ACUMBAMAIL_SECURITY": "starttls",
        "ACUMBAMAIL_CA_FILE": relay.ca_file,
        "ACUMBAMAIL_DEFAULT_SENDER": "Shop <shop@example.com>",
        "ACUMBAMAIL_SUPPRESS_SEND": False,
        **extra,
    }


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ACUMBAMAIL_* variable of the machine leaks into a test (the extension reads them)."""
    for name in list(os.environ):
        if name.startswith("ACUMBAMAIL_"):
            monkeypatch.delenv(name)


@pytest.fixture
def relay() -> Iterator[FakeRelay]:
    with FakeRelay(username=USERNAME, password=PASSWORD) as server:
        yield server


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Flask]:
    """``make_app(**config)``: a testing Flask app whose instance folder is under ``tmp_path``."""
    counter = iter(range(1000))

    def make(import_name: str = "flask_test_app", **config: Any) -> Flask:
        app = Flask(import_name, instance_path=str(tmp_path / f"instance{next(counter)}"))
        app.config.update({"TESTING": True, **config})
        return app

    return make


@pytest.fixture
def app(make_app: Callable[..., Flask], relay: FakeRelay) -> Flask:
    """An app set up with the extension (``app.extensions["acumbamail"].extension``) for ``relay``."""
    app = make_app(**relay_settings(relay))
    Acumbamail(app)
    return app


@pytest.fixture
def mail(app: Flask) -> Acumbamail:
    extension = app.extensions["acumbamail"].extension
    assert isinstance(extension, Acumbamail)
    return extension


@pytest.fixture
def flask_server() -> Iterator[Callable[[Flask], str]]:
    """``flask_server(app)`` serves ``app`` on 127.0.0.1 in a thread and returns its base URL."""
    servers: list[tuple[BaseWSGIServer, threading.Thread]] = []

    def serve(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join(5)
