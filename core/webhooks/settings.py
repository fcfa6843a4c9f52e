"""A :class:`WebhookReceiver` from plain settings, and the one receiver cache every adapter uses.

Adapters read their framework's settings into the names :func:`receiver_from_settings` takes
(:data:`WEBHOOK_KEYS` maps the suffix of each adapter's setting name to one) and ask
:func:`cached_receiver`, which builds a receiver once per store and settings, and renames a
:class:`ConfigError` to the setting as the project wrote it.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from ..settings import is_unset, read, to_bool, to_credentials, to_int, to_list
from ..store.sqlite import EventStore
from ..store.suppression import SuppressionPolicy
from .receiver import DEFAULT_MAX_BODY, EventHandler, WebhookReceiver
from .verify import WebhookVerifier

#: Every setting :func:`receiver_from_settings` takes.
SETTINGS: tuple[str, ...] = ("token", "basic_auth", "signing_secrets", "insecure", "max_body",
                             "soft_bounce_limit", "soft_bounce_days", "on_event")
#: The adapters' webhook setting names (after their prefix: ``ACUMBAMAIL_``, ``ACUMBAMAIL["..."]``)
#: and the :func:`receiver_from_settings` name each one feeds.
WEBHOOK_KEYS: Mapping[str, str] = {
    "WEBHOOK_TOKEN": "token",
    "WEBHOOK_BASIC_AUTH": "basic_auth",
    "WEBHOOK_SIGNING_SECRETS": "signing_secrets",
    "WEBHOOK_INSECURE": "insecure",
    "WEBHOOK_MAX_BODY": "max_body",
    "SOFT_BOUNCE_LIMIT": "soft_bounce_limit",
    "SOFT_BOUNCE_DAYS": "soft_bounce_days",
}
#: Receivers kept by :func:`cached_receiver` (the most recently used ones).
CACHE_SIZE = 16


def receiver_from_settings(store: EventStore, settings: Mapping[str, Any] | None = None,
                           **overrides: Any) -> WebhookReceiver:
    """A :class:`WebhookReceiver` from plain settings (a dict, framework config or keywords):
    ``token``, ``basic_auth`` (a list of pairs or ``"user:pass"`` strings, taken as they are, or
    one string of ``user:pass`` entries separated by commas, white space around them ignored: a
    password with a comma, or white space at either end, must be given in a list),
    ``signing_secrets`` (a list or a space/comma-separated string), ``insecure``, ``max_body``,
    ``soft_bounce_limit``, ``soft_bounce_days`` and ``on_event``. Keys are case-insensitive;
    ``None`` means unset; strings such as ``"true"`` or ``"4096"`` are converted."""
    values = _known(settings, overrides)
    verifier = WebhookVerifier(
        token=values.get("token"), basic_auth=read(values, "basic_auth", to_credentials),
        signing_secrets=read(values, "signing_secrets", to_list),
        insecure=read(values, "insecure", to_bool, False) or False)
    policy = SuppressionPolicy(
        soft_bounce_limit=read(values, "soft_bounce_limit", to_int),
        soft_bounce_days=read(values, "soft_bounce_days", to_int) or 7)
    return WebhookReceiver(store, verifier, max_body=read(values, "max_body", to_int) or DEFAULT_MAX_BODY,
                           on_event=values.get("on_event"), policy=policy)


def _known(settings: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The set values by lower-case name; an unknown name is a ConfigError."""
    values: dict[str, Any] = {}
    for key, value in {**dict(settings or {}), **overrides}.items():
        name = str(key).lower()
        if name not in SETTINGS:
            raise ConfigError(str(key), f"unknown webhook setting; expected one of {', '.join(SETTINGS)}")
        if not is_unset(value):
            values[name] = value
    return values


_cache: list[tuple[EventStore, dict[str, Any], EventHandler | None, WebhookReceiver]] = []
_cache_lock = threading.Lock()


def cached_receiver(store: EventStore, settings: Mapping[str, Any], *, on_event: EventHandler | None = None,
                    names: Mapping[str, str] | None = None) -> WebhookReceiver:
    """The receiver for ``store`` (by identity), ``settings`` and ``on_event`` (by equality),
    built by :func:`receiver_from_settings` on first use and shared afterwards, so adapters may
    ask at every request and settings changed by a test take effect at once.

    A :class:`ConfigError` names the setting ``names`` maps its field to (the framework's own
    spelling); "nothing configured" names the token's setting."""
    wanted = {str(key).lower(): value for key, value in settings.items() if not is_unset(value)}
    with _cache_lock:
        for index, (known, known_settings, handler, receiver) in enumerate(_cache):
            if known is store and known_settings == wanted and handler == on_event:
                _cache.append(_cache.pop(index))
                return receiver
        try:
            receiver = receiver_from_settings(store, wanted, on_event=on_event)
        except ConfigError as exc:
            if names is None:
                raise
            field = "token" if exc.field == "webhook verification" else exc.field
            raise ConfigError(names.get(field, exc.field), exc.problem) from None
        _cache.append((store, wanted, on_event, receiver))
        del _cache[:-CACHE_SIZE]
        return receiver
