"""AUTH for both mailers, written so that the secret sits in as few places as possible.

Error trackers that capture a traceback's local variables (Sentry does by default) would record
a password held by the login function. So the login functions hold only the configuration
(whose ``repr`` hides the password): the secret is read inside the one-line functions below,
which return only the base64 bytes for the wire, and the relay's answer to AUTH is
:func:`scrub`-bed of the secret (in clear or base64) before it reaches a log line or an error.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Generator

from ..config import RelayConfig
from ..errors import AuthenticationError, PermanentError
from ..result import Reply
from .replies import auth_error

#: The mechanisms we speak, in order of preference (PLAIN takes one round trip, LOGIN two).
MECHANISMS = ("PLAIN", "LOGIN")
REDACTED = "<redacted>"

#: One AUTH conversation: yields the parts of a command line, receives its reply, returns the last.
AuthExchange = Generator[tuple[bytes, ...], Reply, Reply]

_TOKEN = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def mechanism(offered: str) -> str:
    """The mechanism to use among those the relay ``offered`` (its EHLO AUTH line)."""
    names = offered.upper().split()
    for name in MECHANISMS:
        if name in names:
            return name
    raise PermanentError(f"relay offers no AUTH mechanism we support (it offers {offered or 'none'!r}; "
                         f"we speak {', '.join(MECHANISMS)})")


def _plain(config: RelayConfig) -> bytes:
    return base64.b64encode(f"\0{config.username}\0{config.password}".encode())


def _username(config: RelayConfig) -> bytes:
    return base64.b64encode(str(config.username).encode())


def _password(config: RelayConfig) -> bytes:
    return base64.b64encode(str(config.password).encode())


def exchange(config: RelayConfig, name: str) -> AuthExchange:
    """The AUTH conversation for mechanism ``name`` (see :func:`mechanism`), without I/O; its
    frames never hold the secret in a variable (the wire bytes are yielded as they are made)."""
    if name == "PLAIN":
        return (yield (b"AUTH", b"PLAIN", _plain(config)))
    # The user name as the initial response (RFC 4954 4): one round trip less than a bare AUTH LOGIN.
    reply = yield (b"AUTH", b"LOGIN", _username(config))
    if reply.code == 334 and _asks_username(reply.text):
        reply = yield (_username(config),)  # a relay that ignored the initial response
    if reply.code != 334:
        return reply
    return (yield (_password(config),))


def _asks_username(challenge: str) -> bool:
    """Whether a LOGIN challenge (base64) asks for the user name ("Username:"), not the password."""
    try:
        text = base64.b64decode(challenge.strip(), validate=True).decode("utf-8", "replace")
    except ValueError:
        return False
    return text.lower().replace(" ", "").startswith("username")


def _cores(secret: bytes) -> list[str]:
    """The base64 characters that encode ``secret`` alone, for each of the three byte alignments
    it can have in a longer base64 text (so an echoed AUTH PLAIN blob is found as well)."""
    cores = []
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret).decode()
        core = encoded[-(-8 * shift // 6):8 * (shift + len(secret)) // 6]
        if len(core) >= 4:
            cores.append(core)
    return cores


def scrub(text: str, config: RelayConfig) -> str:
    """``text`` (the relay's answer to AUTH) without the secret, in clear or in base64."""
    if not config.password:
        return text
    text = text.replace(config.password, REDACTED)
    cores = _cores(config.password.encode())
    return _TOKEN.sub(lambda m: REDACTED if any(core in m.group() for core in cores) else m.group(), text)


def refused(config: RelayConfig, reply: Reply) -> AuthenticationError | None:
    """None when ``reply`` (the last of the AUTH conversation) accepts the credentials, else the
    error to raise, its text scrubbed."""
    if 200 <= reply.code < 300:
        return None
    return auth_error(str(config.username), reply.code, scrub(reply.text, config))
