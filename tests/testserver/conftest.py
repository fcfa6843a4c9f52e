"""Fixtures for the fake relay's tests: smtplib clients and a webhook receiver, all on 127.0.0.1."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable, Iterator

import pytest
from acumbamail_smtp.testserver import FakeRelay

from tests.browser import browser  # noqa: F401  (session-scoped fixture)
from tests.testserver.relay_helpers import RawSMTP, Receiver


@pytest.fixture
def connect() -> Iterator[Callable[..., smtplib.SMTP]]:
    """``connect(relay, tls="starttls"|"implicit"|None, login=True)``: an smtplib client, closed after."""
    clients: list[smtplib.SMTP] = []

    def make(relay: FakeRelay, tls: str | None = "starttls", login: bool = True) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=relay.ca_file)
        client: smtplib.SMTP
        if tls == "implicit":
            client = smtplib.SMTP_SSL(relay.host, relay.tls_port, context=context, timeout=10)
        else:
            client = smtplib.SMTP(relay.host, relay.port, timeout=10)
        clients.append(client)
        client.ehlo("client.example.com")
        if tls == "starttls":
            client.starttls(context=context)
            client.ehlo("client.example.com")
        if login:
            client.login(relay.username, relay.password)
        return client

    yield make
    for client in clients:
        with contextlib.suppress(OSError):
            client.close()


@pytest.fixture
def raw() -> Iterator[Callable[..., RawSMTP]]:
    """``raw(relay, tls=None|"implicit", login=True)``: a byte-level client, closed after. Plain
    connections log in in clear text, so give the relay ``starttls=False`` for them."""
    clients: list[RawSMTP] = []

    def make(relay: FakeRelay, tls: str | None = None, login: bool = True) -> RawSMTP:
        if tls == "implicit":
            client = RawSMTP(relay.host, relay.tls_port, context=ssl.create_default_context(cafile=relay.ca_file))
        else:
            client = RawSMTP(relay.host, relay.port)
        clients.append(client)
        if login:
            client.login(relay.username, relay.password)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()
