"""Relay configuration: where the relay is, how to secure the connection, and who we are.

One frozen :class:`RelayConfig` is validated once, when it is made; every adapter builds one from
its framework's settings and hands it to the core.
"""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from .errors import ConfigError
from .message.categories import validate_category
from .settings import to_bool, to_int, to_seconds

Security = Literal["starttls", "tls", "none"]

DEFAULT_HOST = "smtp.acumbamail.com"
DEFAULT_PORT = 587
SECURITY_MODES: tuple[str, ...] = ("starttls", "tls", "none")
#: Acumbamail's published port table (help centre article 69). Any other port uses STARTTLS.
PORT_SECURITY: Mapping[int, Security] = {
    587: "starttls",
    25252: "starttls",
    25: "starttls",
    465: "tls",
    2525: "tls",
}


def security_for_port(port: int) -> Security:
    """The security Acumbamail's port table gives ``port``: implicit TLS on 465/2525, else STARTTLS."""
    return PORT_SECURITY.get(port, "starttls")


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """How to reach and authenticate with the relay.

    ``security`` follows Acumbamail's port table when not given. STARTTLS is required, not
    opportunistic, certificates are verified, and credentials never travel over a plain
    connection unless ``allow_insecure`` says so. The password never appears in ``repr()``.
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security: Security | None = None
    timeout: float = 30.0
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)
    ca_file: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    default_from: str | None = None
    default_category: str | None = None
    allow_insecure: bool = False
    local_hostname: str | None = None
    #: Total attempts for a transient fault (4xx reply, dropped connection); 1 disables retries.
    max_tries: int = 3
    #: First backoff delay in seconds; doubles on every retry, capped at ``retry_backoff_max``.
    retry_backoff: float = 0.5
    retry_backoff_max: float = 10.0
    #: Most lines one reply may have (a relay's EHLO has about a dozen); more ends the connection.
    max_reply_lines: int = 100
    #: Longest reply line in bytes (RFC 5321 allows 512; slack for long EHLO and 5xx texts).
    max_reply_line: int = 2048
    #: Most bytes one reply may have in all.
    max_reply_bytes: int = 32768
    #: Seconds for the whole reply to one command (None: ``timeout``); ``timeout`` bounds each read.
    reply_timeout: float | None = None
    #: Send with CHUNKING (RFC 3030, BDAT) when the relay offers it along with PIPELINING.
    chunking: bool = True
    #: Messages written ahead with CHUNKING before the first reply is read: more per round trip,
    #: and as many in doubt if the connection is lost (with DATA, never more than one).
    chunking_window: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigError("host", "must be a non-empty host name")
        if isinstance(self.port, bool) or not isinstance(self.port, int):
            raise ConfigError("port", f"must be an integer from 1 to 65535, got {type(self.port).__name__}")
        if not 1 <= self.port <= 65535:
            raise ConfigError("port", f"must be from 1 to 65535, got {self.port}")
        if self.security is None:
            object.__setattr__(self, "security", security_for_port(self.port))
        elif self.security not in SECURITY_MODES:
            raise ConfigError(
                "security", f"must be one of {', '.join(SECURITY_MODES)}; got {self.security!r}"
            )
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float):
            raise ConfigError("timeout", "must be a number of seconds")
        if not math.isfinite(self.timeout) or self.timeout <= 0:
            raise ConfigError("timeout", f"must be a positive number of seconds, got {self.timeout}")
        if self.password and not self.username:
            raise ConfigError("username", "is required when a password is given (the account e-mail)")
        if self.username and not self.password:
            raise ConfigError("password", "is required when a username is given (password or auth token)")
        if self.username and self.security == "none" and not self.allow_insecure:
            raise ConfigError(
                "security",
                "'none' would send the credentials in clear text; use 'starttls' or 'tls', "
                "or set allow_insecure=True for a trusted local relay",
            )
        if self.ssl_context is not None and self.ca_file is not None:
            raise ConfigError("ca_file", "give either ssl_context or ca_file, not both")
        if self.ca_file is not None and not os.path.isfile(self.ca_file):
            raise ConfigError("ca_file", f"no such file: {self.ca_file}")
        if self.keyfile is not None and self.certfile is None:
            raise ConfigError("certfile", "is required when keyfile is given")
        if self.default_category is not None:
            try:
                validate_category(self.default_category)
            except ValueError as exc:
                raise ConfigError("default_category", str(exc)) from None
        if isinstance(self.max_tries, bool) or not isinstance(self.max_tries, int) or self.max_tries < 1:
            raise ConfigError("max_tries", f"must be an integer >= 1, got {self.max_tries!r}")
        for name in ("retry_backoff", "retry_backoff_max"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(name, f"must be a number of seconds, got {value!r}")
        if self.retry_backoff < 0 or self.retry_backoff_max < 0:
            raise ConfigError("retry_backoff", "must not be negative")
        if not isinstance(self.chunking, bool):
            raise ConfigError("chunking", f"must be True or False, got {self.chunking!r}")
        for name, least in (("max_reply_lines", 1), ("max_reply_line", 64), ("max_reply_bytes", 64),
                            ("chunking_window", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ConfigError(name, f"must be an integer >= {least}, got {value!r}")
        if self.reply_timeout is not None and (
            isinstance(self.reply_timeout, bool) or not isinstance(self.reply_timeout, int | float)
            or not math.isfinite(self.reply_timeout) or self.reply_timeout <= 0
        ):
            raise ConfigError("reply_timeout",
                              f"must be a positive number of seconds, got {self.reply_timeout!r}")
        if self.default_from is not None:
            from .message.addresses import parse_address

            try:
                parse_address(self.default_from, "default_from")
            except ValueError as exc:
                raise ConfigError("default_from", str(exc)) from None

    @property
    def reply_deadline(self) -> float:
        """Seconds the relay has for the whole reply to one command: ``reply_timeout``, else ``timeout``."""
        return self.timeout if self.reply_timeout is None else float(self.reply_timeout)

    @property
    def encrypted(self) -> bool:
        """Whether the connection is protected by TLS (STARTTLS or implicit)."""
        return self.security != "none"

    def create_ssl_context(self) -> ssl.SSLContext:
        """The TLS context to use: the given one, else a verifying default (with ``ca_file``)."""
        if self.ssl_context is not None:
            return self.ssl_context
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.certfile:
            context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def replace(self, **changes: Any) -> RelayConfig:
        """A copy with ``changes`` applied (and validated again)."""
        if "port" in changes and "security" not in changes and self.security == security_for_port(self.port):
            changes["security"] = None  # the port table decides again for the new port
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> RelayConfig:
        """Read ``ACUMBAMAIL_*`` variables (HOST, PORT, USERNAME, PASSWORD or AUTH_TOKEN, SECURITY,
        TIMEOUT, DEFAULT_FROM (or DEFAULT_SENDER), DEFAULT_CATEGORY, CA_FILE, ALLOW_INSECURE,
        MAX_TRIES, CHUNKING, CHUNKING_WINDOW, MAX_REPLY_LINES, MAX_REPLY_LINE, MAX_REPLY_BYTES,
        REPLY_TIMEOUT); ``overrides`` win over the environment. A bad value's :class:`ConfigError`
        names the variable it came from."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def get(name: str) -> str | None:
            value = env.get(f"ACUMBAMAIL_{name}")
            return value if value not in (None, "") else None

        if (host := get("HOST")) is not None:
            values["host"] = host
        if (port := get("PORT")) is not None:
            values["port"] = to_int("ACUMBAMAIL_PORT", port)
        if (username := get("USERNAME")) is not None:
            values["username"] = username
        secret = get("PASSWORD") or get("AUTH_TOKEN")
        if secret is not None:
            values["password"] = secret
        if (security := get("SECURITY")) is not None:
            values["security"] = security.lower()
        if (timeout := get("TIMEOUT")) is not None:
            values["timeout"] = to_seconds("ACUMBAMAIL_TIMEOUT", timeout)
        # DEFAULT_SENDER is the Flask extension's spelling of the same setting
        if (default_from := get("DEFAULT_FROM") or get("DEFAULT_SENDER")) is not None:
            values["default_from"] = default_from
        if (category := get("DEFAULT_CATEGORY")) is not None:
            values["default_category"] = category
        if (ca_file := get("CA_FILE")) is not None:
            values["ca_file"] = ca_file
        if (insecure := get("ALLOW_INSECURE")) is not None:
            values["allow_insecure"] = to_bool("ACUMBAMAIL_ALLOW_INSECURE", insecure)
        if (tries := get("MAX_TRIES")) is not None:
            values["max_tries"] = to_int("ACUMBAMAIL_MAX_TRIES", tries)
        if (chunking := get("CHUNKING")) is not None:
            values["chunking"] = to_bool("ACUMBAMAIL_CHUNKING", chunking)
        for field_name in ("chunking_window", "max_reply_lines", "max_reply_line", "max_reply_bytes"):
            variable = field_name.upper()
            if (number := get(variable)) is not None:
                values[field_name] = to_int(f"ACUMBAMAIL_{variable}", number)
        if (reply_timeout := get("REPLY_TIMEOUT")) is not None:
            values["reply_timeout"] = to_seconds("ACUMBAMAIL_REPLY_TIMEOUT", reply_timeout)
        # errors name the variable that set (or would set) a field; an override keeps its field name
        names = {name: f"ACUMBAMAIL_{name.upper()}" for name in _ENV_FIELDS}
        if "password" in values and get("PASSWORD") is None:
            names["password"] = "ACUMBAMAIL_AUTH_TOKEN"  # noqa: S105 - the variable, not a secret
        if "default_from" in values and get("DEFAULT_FROM") is None:
            names["default_from"] = "ACUMBAMAIL_DEFAULT_SENDER"
        for name in overrides:
            names.pop(name, None)
        values.update(overrides)
        return config_from_settings(values, names, kind=cls)

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))


#: The fields :meth:`RelayConfig.from_env` reads, each from ``ACUMBAMAIL_<FIELD>`` (or a synonym).
_ENV_FIELDS: tuple[str, ...] = (
    "host", "port", "username", "password", "security", "timeout", "default_from", "default_category",
    "ca_file", "allow_insecure", "max_tries", "chunking", "chunking_window", "max_reply_lines",
    "max_reply_line", "max_reply_bytes", "reply_timeout",
)


def config_from_settings(values: Mapping[str, Any], names: Mapping[str, str],
                         kind: type[RelayConfig] = RelayConfig) -> RelayConfig:
    """A :class:`RelayConfig` from a framework's settings: a bad value's :class:`ConfigError` names
    the setting it came from (``names`` maps a field to it, e.g. ``{"port": "EMAIL_PORT"}``), and
    the hint about ``allow_insecure`` names that field's setting too. Every adapter builds its
    configuration through this (``kind``: a subclass to make instead)."""
    try:
        return kind(**values)
    except ConfigError as exc:
        problem = exc.problem
        if "allow_insecure" in names:
            problem = problem.replace("allow_insecure=True", f"{names['allow_insecure']} = True")
        raise ConfigError(names.get(exc.field, exc.field), problem) from None
