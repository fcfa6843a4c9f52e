"""The extension's settings, read from ``app.config`` each time they are needed.

``ACUMBAMAIL_*`` keys come first and Flask-Mail's ``MAIL_*`` keys are the fallbacks, so a
Flask-Mail configuration works unchanged. A bad value raises the core's
:class:`~acumbamail_smtp.ConfigError` naming the key that was used.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from email.headerregistry import Address
from typing import Any

from acumbamail_smtp.config import RelayConfig, config_from_settings
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.settings import pick, to_bool, to_int, to_path, to_paths, to_seconds, to_text
from acumbamail_smtp.webhooks.settings import WEBHOOK_KEYS as CORE_WEBHOOK_KEYS

logger = logging.getLogger("acumbamail_smtp.flask")

#: Every key that decides how a message is sent; the resolved settings are cached on their values.
SEND_KEYS: tuple[str, ...] = (
    "ACUMBAMAIL_HOST", "MAIL_SERVER",
    "ACUMBAMAIL_PORT", "MAIL_PORT",
    "ACUMBAMAIL_USERNAME", "MAIL_USERNAME",
    "ACUMBAMAIL_PASSWORD", "ACUMBAMAIL_AUTH_TOKEN", "MAIL_PASSWORD",
    "ACUMBAMAIL_SECURITY", "MAIL_USE_TLS", "MAIL_USE_SSL",
    "ACUMBAMAIL_DEFAULT_SENDER", "MAIL_DEFAULT_SENDER",
    "ACUMBAMAIL_DEFAULT_CATEGORY",
    "ACUMBAMAIL_TIMEOUT",
    "ACUMBAMAIL_CA_FILE",
    "ACUMBAMAIL_ALLOW_INSECURE",
    "ACUMBAMAIL_MAX_TRIES",
    "ACUMBAMAIL_CHUNKING", "ACUMBAMAIL_CHUNKING_WINDOW",
    "ACUMBAMAIL_MAX_REPLY_LINES", "ACUMBAMAIL_MAX_REPLY_LINE", "ACUMBAMAIL_MAX_REPLY_BYTES",
    "ACUMBAMAIL_REPLY_TIMEOUT",
    "ACUMBAMAIL_SUPPRESS_SEND", "MAIL_SUPPRESS_SEND", "TESTING",
    "ACUMBAMAIL_MAX_EMAILS", "MAIL_MAX_EMAILS",
)

#: Webhook keys and the ``receiver_from_settings`` name each one feeds.
WEBHOOK_KEYS: Mapping[str, str] = {f"ACUMBAMAIL_{key}": name for key, name in CORE_WEBHOOK_KEYS.items()}
#: The key behind each ``receiver_from_settings`` name, for its errors.
WEBHOOK_NAMES: Mapping[str, str] = {name: key for key, name in WEBHOOK_KEYS.items()}

#: Every ``ACUMBAMAIL_*`` key the extension reads (others are reported once, as likely typos).
KNOWN_KEYS = frozenset(
    [k for k in SEND_KEYS if k.startswith("ACUMBAMAIL_")]
    + list(WEBHOOK_KEYS) + ["ACUMBAMAIL_STORE", "ACUMBAMAIL_TEMPLATE_FOLDERS", "ACUMBAMAIL_OUTBOX"]
)


@dataclass(frozen=True, slots=True)
class SendSettings:
    """How the current app sends: the relay, whether sending is suppressed, and how many
    messages one connection carries before it is reopened (``None``: no limit)."""

    relay: RelayConfig
    suppress: bool
    max_emails: int | None


def format_address(value: Any, field: str) -> str:
    """An address given as ``"Name <addr>"`` or Flask-Mail's ``(name, addr)`` pair, as text.

    Raises ``ValueError`` naming ``field`` for anything else."""
    if isinstance(value, str):
        return value
    if isinstance(value, tuple | list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        name, addr = str(value[0]), str(value[1])
        if not name:
            return addr
        try:
            return str(Address(display_name=name, addr_spec=addr))
        except Exception as exc:  # email's header parser raises several unrelated types
            raise ValueError(f"{field}: {addr!r} is not a valid e-mail address ({exc})") from None
    raise ValueError(f"{field}: expected an address or a (name, address) pair, got {value!r}")


def _security(config: Mapping[str, Any], used: dict[str, str]) -> str | None:
    """``ACUMBAMAIL_SECURITY``, else Flask-Mail's ``MAIL_USE_TLS``/``MAIL_USE_SSL`` when either is
    set, else None (the core's port table decides)."""
    found = pick(config, "ACUMBAMAIL_SECURITY")
    if found is not None:
        used["security"] = found[0]
        return to_text(*found).strip().lower()
    tls_set = config.get("MAIL_USE_TLS") is not None
    ssl_set = config.get("MAIL_USE_SSL") is not None
    if not (tls_set or ssl_set):
        return None
    use_tls = to_bool("MAIL_USE_TLS", config.get("MAIL_USE_TLS", False))
    use_ssl = to_bool("MAIL_USE_SSL", config.get("MAIL_USE_SSL", False))
    if use_tls and use_ssl:
        raise ConfigError("MAIL_USE_SSL", "MAIL_USE_TLS and MAIL_USE_SSL are both true; choose one "
                                          "(MAIL_USE_SSL: implicit TLS, port 465 or 2525; "
                                          "MAIL_USE_TLS: STARTTLS, port 587)")
    used["security"] = "MAIL_USE_SSL" if use_ssl or not tls_set else "MAIL_USE_TLS"
    return "tls" if use_ssl else "starttls" if use_tls else "none"


def relay_config(config: Mapping[str, Any]) -> RelayConfig:
    """The :class:`RelayConfig` described by ``config`` (a Flask ``app.config``)."""
    values: dict[str, Any] = {}
    used: dict[str, str] = {}

    def take(field: str, *keys: str, convert: Any = to_text) -> None:
        found = pick(config, *keys)
        if found is not None:
            used[field] = found[0]
            values[field] = convert(*found)

    take("host", "ACUMBAMAIL_HOST", "MAIL_SERVER")
    take("port", "ACUMBAMAIL_PORT", "MAIL_PORT", convert=to_int)
    take("username", "ACUMBAMAIL_USERNAME", "MAIL_USERNAME")
    take("password", "ACUMBAMAIL_PASSWORD", "ACUMBAMAIL_AUTH_TOKEN", "MAIL_PASSWORD")
    take("timeout", "ACUMBAMAIL_TIMEOUT", convert=to_seconds)
    take("default_category", "ACUMBAMAIL_DEFAULT_CATEGORY")
    take("ca_file", "ACUMBAMAIL_CA_FILE", convert=to_path)
    take("allow_insecure", "ACUMBAMAIL_ALLOW_INSECURE", convert=to_bool)
    take("max_tries", "ACUMBAMAIL_MAX_TRIES", convert=to_int)
    take("chunking", "ACUMBAMAIL_CHUNKING", convert=to_bool)
    take("chunking_window", "ACUMBAMAIL_CHUNKING_WINDOW", convert=to_int)
    take("max_reply_lines", "ACUMBAMAIL_MAX_REPLY_LINES", convert=to_int)
    take("max_reply_line", "ACUMBAMAIL_MAX_REPLY_LINE", convert=to_int)
    take("max_reply_bytes", "ACUMBAMAIL_MAX_REPLY_BYTES", convert=to_int)
    take("reply_timeout", "ACUMBAMAIL_REPLY_TIMEOUT", convert=to_seconds)
    sender = pick(config, "ACUMBAMAIL_DEFAULT_SENDER", "MAIL_DEFAULT_SENDER")
    if sender is not None:
        used["default_from"] = sender[0]
        try:
            values["default_from"] = format_address(sender[1], sender[0])
        except ValueError as exc:
            raise ConfigError(sender[0], str(exc).partition(": ")[2]) from None
    security = _security(config, used)
    if security is not None:
        values["security"] = security
    names = {field: used.get(field) or _missing_key(field, used) for field in RelayConfig.field_names()}
    return config_from_settings(values, names)


#: Flask-Mail's key for a RelayConfig field, named when that field is missing in a Flask-Mail setup.
_FLASK_MAIL_KEYS = {"host": "MAIL_SERVER", "port": "MAIL_PORT", "username": "MAIL_USERNAME",
                    "password": "MAIL_PASSWORD", "default_from": "MAIL_DEFAULT_SENDER"}


def _missing_key(field: str, used: Mapping[str, str]) -> str:
    """The key to name for a field that was not set: Flask-Mail's when the rest of the
    configuration uses Flask-Mail's keys, else ours."""
    if field in _FLASK_MAIL_KEYS and any(key.startswith("MAIL_") for key in used.values()):
        return _FLASK_MAIL_KEYS[field]
    return {"default_from": "ACUMBAMAIL_DEFAULT_SENDER"}.get(field, f"ACUMBAMAIL_{field.upper()}")


def send_settings(config: Mapping[str, Any], testing: bool) -> SendSettings:
    """Everything a send needs from ``config``; ``testing`` is ``app.testing``, the default of
    ``ACUMBAMAIL_SUPPRESS_SEND``."""
    relay = relay_config(config)
    found = pick(config, "ACUMBAMAIL_SUPPRESS_SEND", "MAIL_SUPPRESS_SEND")
    suppress = to_bool(*found) if found is not None else bool(testing)
    max_emails: int | None = None
    found = pick(config, "ACUMBAMAIL_MAX_EMAILS", "MAIL_MAX_EMAILS")
    if found is not None:
        max_emails = to_int(*found)
        if max_emails < 1:
            raise ConfigError(found[0], f"must be a number of messages >= 1 (or unset), got {max_emails}")
    return SendSettings(relay, suppress, max_emails)


def webhook_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``ACUMBAMAIL_WEBHOOK_*`` values under the names ``receiver_from_settings`` takes."""
    return {name: config.get(key) for key, name in WEBHOOK_KEYS.items()}


def template_folders(config: Mapping[str, Any], root_path: str) -> tuple[str, ...]:
    """``ACUMBAMAIL_TEMPLATE_FOLDERS`` (one folder or a list), relative ones under ``root_path``."""
    value = config.get("ACUMBAMAIL_TEMPLATE_FOLDERS")
    if value is None or value == "":
        return ()
    folders: list[str] = []
    for item in to_paths("ACUMBAMAIL_TEMPLATE_FOLDERS", value):
        folder = os.path.join(root_path, item)
        if not os.path.isdir(folder):
            raise ConfigError("ACUMBAMAIL_TEMPLATE_FOLDERS", f"{folder!r} is not a folder")
        folders.append(folder)
    return tuple(folders)


def unknown_keys(config: Mapping[str, Any]) -> list[str]:
    """``ACUMBAMAIL_*`` keys the extension does not read (probably misspelt)."""
    return sorted(k for k in config if isinstance(k, str) and k.startswith("ACUMBAMAIL_")
                  and k not in KNOWN_KEYS)
