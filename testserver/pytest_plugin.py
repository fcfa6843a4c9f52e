"""Pytest fixtures that start a fake Acumbamail relay on 127.0.0.1 for each test.

Loaded automatically (the ``pytest11`` entry point) in every project that installs
acumbamail-smtp, so this module imports nothing but pytest: aiosmtpd and trustme are only needed
once a test asks for one of the fixtures. Imported without pytest (by a tool that walks every
module) it defines nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .relay import FakeRelay
    from .turns import TurnCounter

try:
    import pytest
except ImportError:  # pragma: no cover - only without pytest
    pytest = None  # type: ignore[assignment]

if pytest is not None:

    @pytest.fixture
    def acumbamail_relay_factory() -> Iterator[Callable[..., FakeRelay]]:
        """Call with ``FakeRelay`` keyword arguments for more started relays; all stop after the test."""
        from .relay import FakeRelay

        relays: list[FakeRelay] = []

        def make(**kwargs: Any) -> FakeRelay:
            relay = FakeRelay(**kwargs)
            relays.append(relay)
            relay.start()
            return relay

        try:
            yield make
        finally:
            for relay in reversed(relays):
                relay.stop()

    def pytest_configure(config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers",
            "acumbamail_relay(**kwargs): FakeRelay keyword arguments for the acumbamail_relay "
            "fixture, e.g. @pytest.mark.acumbamail_relay(chunking=True)",
        )

    @pytest.fixture
    def acumbamail_relay(
        request: pytest.FixtureRequest, acumbamail_relay_factory: Callable[..., FakeRelay]
    ) -> FakeRelay:
        """A started fake relay with the default credentials; ``relay.client_config()`` reaches it.

        ``@pytest.mark.acumbamail_relay(chunking=True, ...)`` passes ``FakeRelay`` keyword arguments
        (the closest marker wins), so a test needs no factory call for one non-default relay."""
        marker = request.node.get_closest_marker("acumbamail_relay")
        kwargs: dict[str, Any] = {} if marker is None else dict(marker.kwargs)
        if marker is not None and marker.args:
            raise TypeError("@pytest.mark.acumbamail_relay takes FakeRelay keyword arguments only")
        return acumbamail_relay_factory(**kwargs)

    @pytest.fixture
    def acumbamail_turn_counter() -> Iterator[Callable[..., TurnCounter]]:
        """Call with ``(host, port, delay=0.0)`` for a started round-trip counting proxy in front
        of that loopback server (e.g. ``acumbamail_relay.host, acumbamail_relay.port``); all
        stop after the test."""
        from .turns import TurnCounter

        counters: list[TurnCounter] = []

        def make(host: str, port: int, *, delay: float = 0.0) -> TurnCounter:
            counter = TurnCounter(host, port, delay=delay)
            counters.append(counter)
            return counter.start()

        try:
            yield make
        finally:
            for counter in reversed(counters):
                counter.stop()
