"""A fake Acumbamail relay for tests and local development: real SMTP on 127.0.0.1, scriptable
faults, Acumbamail-shaped webhooks, a JSON API and a web page. Needs the ``testserver`` extra
(aiosmtpd, trustme); those are imported only when :class:`FakeRelay` is first used, so the pytest
plugin loads everywhere.

    with FakeRelay() as relay:
        config = relay.client_config()
        ...
        [message] = relay.wait_for(1)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .records import ReceivedMessage
    from .relay import FakeRelay
    from .webhooks import WebhookDelivery

__all__ = ["FakeRelay", "ReceivedMessage", "WebhookDelivery"]

_HOMES = {"FakeRelay": ".relay", "ReceivedMessage": ".records", "WebhookDelivery": ".webhooks"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
