"""Which command carried each message's content. The fake relay records what it accepted, not
whether it came with DATA or BDAT, so the settings tests put a TurnCounter in front of a
plain-text relay that offers CHUNKING and read the client's bytes. Shared by the core's and every
adapter's settings tests."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from acumbamail_smtp.testserver import FakeRelay, TurnCounter

#: A command line that starts a message's content: ``DATA`` or ``BDAT <size> [LAST]``.
_TRANSFER = re.compile(rb"(?:^|\r\n)(DATA)\r\n|(?:^|\r\n)(BDAT) \d+")


@contextmanager
def chunking_relay() -> Iterator[tuple[FakeRelay, TurnCounter]]:
    """A fake relay offering CHUNKING and PIPELINING without STARTTLS (so the bytes can be read),
    and a TurnCounter in front of it: clients connect to ``turns.port`` with security ``none``."""
    with FakeRelay(chunking=True, starttls=False) as relay, TurnCounter(relay.host, relay.port) as turns:
        yield relay, turns


def transfer_commands(turns: TurnCounter) -> list[str]:
    """``"DATA"`` or ``"BDAT"`` for each content command the clients sent through ``turns``, in order
    (a message in several chunks has several BDATs)."""
    sent = b"".join(b"".join(session.client) for session in turns.sessions)
    return [(match.group(1) or match.group(2)).decode() for match in _TRANSFER.finditer(sent)]
