"""SMTP replies turned into the library's errors, shared by the sync and async transports."""

from __future__ import annotations

from ..errors import AuthenticationError, PermanentError, SendError, TransientError

#: Replies that mean the server is closing the connection: reconnect before trying again.
CLOSING_CODES = frozenset({421})

AUTH_HINT = (
    "If the credentials are right, SMTP sending may not be enabled on the account yet: Acumbamail "
    "support enables it on plans priced per e-mail or on prepaid credits. The password may also be "
    "the API auth token, which changes when it is regenerated in the panel."
)


def reply_text(raw: str | bytes) -> str:
    """A reply's text as ``str`` (servers may send bytes that are not UTF-8)."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def error_for_reply(stage: str, code: int, text: str) -> SendError:
    """The error for a reply ``code`` received at ``stage`` (e.g. ``"MAIL FROM"``, ``"DATA"``)."""
    message = f"relay answered {code} {text} to {stage}"
    if 400 <= code < 500:
        return TransientError(message, code=code, text=text)
    return PermanentError(message, code=code, text=text)


def auth_error(username: str, code: int, text: str) -> AuthenticationError:
    """The error for a refused AUTH; it names the user, never the secret."""
    return AuthenticationError(
        f"relay refused the credentials of {username!r} ({code} {text}). {AUTH_HINT}",
        code=code,
        text=text,
    )
