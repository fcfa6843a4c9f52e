"""pytest-django setup for the Django adapter's tests, and fixtures that point the project at the
fake relay (Django's test runner swaps in the locmem backend; these put ours back)."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django
import pytest

_DB_DIR = tempfile.mkdtemp(prefix="acumbamail-django-tests-")


def _setup_django() -> None:
    """Configure Django from tests/django/settings.py, without leaving DJANGO_SETTINGS_MODULE in
    the environment (child processes of other tests, such as pytester runs, must not inherit it).

    pytest-django reads DJANGO_SETTINGS_MODULE before this folder's conftest is loaded; once
    Django is set up here its fixtures (test environment, test database) take over."""
    saved = {name: os.environ.get(name) for name in ("DJANGO_SETTINGS_MODULE", "ACUMBAMAIL_DJANGO_TEST_DIR")}
    os.environ["ACUMBAMAIL_DJANGO_TEST_DIR"] = _DB_DIR
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.django.settings")
    try:
        django.setup()
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_setup_django()


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_DB_DIR, ignore_errors=True)


@pytest.fixture
def relay(acumbamail_relay: Any) -> Any:
    """A started fake relay (STARTTLS on ``port``, implicit TLS on ``tls_port``, AUTH required)."""
    return acumbamail_relay


@pytest.fixture
def use_relay(settings: Any, relay: Any) -> Any:
    """The project configured like Acumbamail's Django example (EMAIL_HOST/PORT/HOST_USER/
    HOST_PASSWORD, no TLS setting), pointed at the fake relay."""
    from acumbamail_smtp.integrations.django.testing import relay_settings

    for name, value in relay_settings(relay).items():
        setattr(settings, name, value)
    return relay


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def live_app() -> Iterator[str]:
    """The Django project on 127.0.0.1 (a free port) behind the standard library's WSGI server,
    one thread a request (Flask's werkzeug is not installed in the Django session)."""
    from django.core.handlers.wsgi import WSGIHandler

    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_ThreadingWSGIServer,
                         handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
