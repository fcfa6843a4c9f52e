"""A fake Acumbamail relay for tests and local development: real SMTP on 127.0.0.1, scriptable
faults, Acumbamail-shaped webhooks, a JSON API and a web page. Needs the ``testserver`` extra
(aiosmtpd, trustme); those are imported only when :class:`FakeRelay` is first used, so the pytest
plugin loads everywhere. :class:`TurnCounter` (standard library only) is a loopback proxy that
counts a connection's round trips.

    with FakeRelay() as relay:
        config = relay.client_config()
        ...
        [message] = relay.wait_for(1)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from acumbamail_smtp.lazy import lazy_exports

if TYPE_CHECKING:
    from .records import ReceivedMessage
    from .relay import FakeRelay
    from .turns import TurnCounter, TurnSession
    from .webhooks import WebhookDelivery

__all__ = ["FakeRelay", "ReceivedMessage", "TurnCounter", "TurnSession", "WebhookDelivery"]

_HOMES = {
    "FakeRelay": ".relay",
    "ReceivedMessage": ".records",
    "TurnCounter": ".turns",
    "TurnSession": ".turns",
    "WebhookDelivery": ".webhooks",
}


__getattr__ = lazy_exports(__name__, _HOMES)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
