"""A tiny client for the two functions of Acumbamail's HTTP API that manage the SMTP webhook
(``configSMTPWebhook`` and ``getSMTPWebhook``), on the standard library's urllib.

Every call is a form-urlencoded POST to ``<base>/<function>/`` carrying ``auth_token`` and
``response_type=json``. The token never appears in an error, a log line or ``repr()``.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..errors import AcumbamailError, ConfigError
from ..events import EventType, event_type_for

DEFAULT_API_BASE = "https://acumbamail.com/api/1/"
TOKEN_ENV = "ACUMBAMAIL_AUTH_TOKEN"  # noqa: S105 (a variable name, not a secret)
API_BASE_ENV = "ACUMBAMAIL_API_BASE"

#: The events the SMTP webhook can send, and the flag ``configSMTPWebhook`` takes for each.
CONFIG_FLAGS: Mapping[EventType, str] = {
    EventType.DELIVERED: "delivered",
    EventType.HARD_BOUNCE: "hard_bounce",
    EventType.SOFT_BOUNCE: "soft_bounce",
    EventType.COMPLAINT: "complain",
    EventType.OPENED: "opens",
    EventType.CLICKED: "click",
}
#: The field ``getSMTPWebhook`` reports each event under (note: not the same names).
INFO_FIELDS: Mapping[EventType, str] = {
    EventType.DELIVERED: "delivered",
    EventType.HARD_BOUNCE: "hard_bounces",
    EventType.SOFT_BOUNCE: "soft_bounces",
    EventType.COMPLAINT: "complaints",
    EventType.OPENED: "opens",
    EventType.CLICKED: "clicks",
}
WEBHOOK_EVENTS: tuple[EventType, ...] = tuple(CONFIG_FLAGS)


class ApiError(AcumbamailError):
    """Acumbamail's API refused a call or could not be reached; ``status`` is the HTTP status."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def webhook_events(names: Iterable[str | EventType] | str | None) -> list[EventType]:
    """The webhook events named (any spelling: ``hard_bounce``, ``hard_bounces``, ``opens``...);
    all of them when ``names`` is None. A comma-separated string is accepted."""
    if names is None:
        return list(WEBHOOK_EVENTS)
    items = [n for n in names.split(",") if n.strip()] if isinstance(names, str) else list(names)
    chosen: list[EventType] = []
    for name in items:
        event = event_type_for(str(name))
        if event not in CONFIG_FLAGS:
            allowed = ", ".join(e.value for e in WEBHOOK_EVENTS)
            raise ConfigError("events", f"{name!r} is not a webhook event; use {allowed}")
        if event not in chosen:
            chosen.append(event)
    if not chosen:
        raise ConfigError("events", "name at least one event")
    return chosen


class AcumbamailAPI:
    """Calls Acumbamail's HTTP API with ``auth_token`` (default ``$ACUMBAMAIL_AUTH_TOKEN``).

    ``base_url`` defaults to ``$ACUMBAMAIL_API_BASE`` or Acumbamail's own. Acumbamail allows about
    10 requests per minute per function; HTTP 429 raises :class:`ApiError` saying so.
    """

    def __init__(self, auth_token: str | None = None, *, base_url: str | None = None,
                 timeout: float = 30.0) -> None:
        token = auth_token if auth_token is not None else os.environ.get(TOKEN_ENV)
        if not token or not token.strip():
            raise ConfigError("auth_token", f"is required: set {TOKEN_ENV} or pass --auth-token "
                                            "(shown on Acumbamail's API page when logged in)")
        self._token = token.strip()
        base = base_url or os.environ.get(API_BASE_ENV) or DEFAULT_API_BASE
        parts = urlsplit(base)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError("base_url", f"must be an http(s) URL, got {base!r}")
        self.base_url = base if base.endswith("/") else base + "/"
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigError("timeout", f"must be a positive number of seconds, got {timeout!r}")
        self.timeout = float(timeout)

    def __repr__(self) -> str:
        return f"AcumbamailAPI(base_url={self.base_url!r})"

    def call(self, function: str, **fields: str | int) -> Any:
        """POST ``fields`` to ``function`` and return the decoded JSON answer."""
        data = urlencode({**{k: str(v) for k, v in fields.items()}, "auth_token": self._token,
                          "response_type": "json"}).encode("ascii")
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            f"{self.base_url}{function}/", data=data, method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded",
                     "Accept": "application/json", "User-Agent": "acumbamail-smtp"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise self._http_error(function, exc) from None
        except TimeoutError:
            raise ApiError(f"{function}: Acumbamail's API did not answer within "
                           f"{self.timeout:g} s") from None
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise ApiError(f"{function}: Acumbamail's API did not answer within "
                               f"{self.timeout:g} s") from None
            raise ApiError(f"{function}: cannot reach {self.base_url}: "
                           f"{self._scrub(str(exc.reason))}") from None
        try:
            return json.loads(payload.decode("utf-8")) if payload.strip() else None
        except (UnicodeDecodeError, ValueError):
            raise ApiError(f"{function}: the answer is not JSON: "
                           f"{self._scrub(payload[:200].decode('utf-8', 'replace'))!r}") from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***")

    def _http_error(self, function: str, exc: urllib.error.HTTPError) -> ApiError:
        try:
            detail = self._scrub(exc.read()[:200].decode("utf-8", "replace").strip())
        except OSError:
            detail = ""
        status = exc.code
        if status == 429:
            return ApiError(f"{function}: Acumbamail's API rate limit was hit (about 10 requests per "
                            "minute per function); wait a minute and try again", status=status)
        if status in (401, 403):
            return ApiError(f"{function}: Acumbamail refused the auth token (HTTP {status}); check "
                            f"{TOKEN_ENV} or --auth-token", status=status)
        suffix = f": {detail}" if detail else ""
        return ApiError(f"{function}: HTTP {status} {exc.reason}{suffix}", status=status)

    def configure_smtp_webhook(self, callback_url: str,
                               events: Iterable[str | EventType] | str | None = None,
                               active: bool = True) -> int:
        """Point the account's SMTP webhook at ``callback_url`` for ``events`` (all by default);
        returns the webhook's id."""
        parts = urlsplit(callback_url or "")
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ConfigError("callback_url", "must be an absolute http(s) URL")
        chosen = set(webhook_events(events))
        flags = {flag: int(event in chosen) for event, flag in CONFIG_FLAGS.items()}
        answer = self.call("configSMTPWebhook", callback_url=callback_url, active=int(bool(active)),
                           **flags)
        value = answer.get("id") if isinstance(answer, dict) else answer
        try:
            return int(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            shown = self._scrub(str(answer))[:200]
            raise ApiError(f"configSMTPWebhook: unexpected answer {shown!r}") from None

    def get_smtp_webhook(self) -> dict[str, Any]:
        """The SMTP webhook as ``{"id", "url", "active", "events"}`` (``events``: the enabled
        :class:`EventType` values), normalized from ``getSMTPWebhook``'s ``{"info": {...}}``."""
        answer = self.call("getSMTPWebhook")
        info = answer.get("info", answer) if isinstance(answer, dict) else None
        if not isinstance(info, dict):
            raise ApiError(f"getSMTPWebhook: unexpected answer {self._scrub(str(answer))[:200]!r}")
        identifier = info.get("id")
        if isinstance(identifier, str) and identifier.strip().isdigit():
            identifier = int(identifier)
        return {
            "id": identifier,
            "url": info.get("url") or info.get("callback_url"),
            "active": _flag(info.get("active")),
            "events": [event.value for event, name in INFO_FIELDS.items()
                       if _flag(info.get(name, info.get(CONFIG_FLAGS[event])))],
        }


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)
