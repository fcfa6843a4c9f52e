"""Settings of the FastAPI integration: ``ACUMBAMAIL_*`` environment variables (and a ``.env``
file) read by pydantic-settings, converted to the core :class:`~acumbamail_smtp.RelayConfig`.

Secrets are ``SecretStr``, so they never show in ``repr()``, logs or validation errors; every bad
value raises the core's :class:`~acumbamail_smtp.ConfigError` naming the environment variable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from acumbamail_smtp.config import DEFAULT_HOST, DEFAULT_PORT, RelayConfig, config_from_settings
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.webhooks.settings import WEBHOOK_KEYS
from pydantic import SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "ACUMBAMAIL_"
#: The core's defaults, so a field's default here cannot drift from RelayConfig's.
_RELAY_DEFAULTS = RelayConfig()


def env_name(field: str) -> str:
    """The environment variable of a settings field: ``port`` -> ``ACUMBAMAIL_PORT``."""
    return ENV_PREFIX + field.upper()


class AcumbamailSettings(BaseSettings):
    """Everything the integration reads from the environment (prefix ``ACUMBAMAIL_``).

    Relay: HOST, PORT, USERNAME, PASSWORD or AUTH_TOKEN, SECURITY, TIMEOUT, DEFAULT_FROM,
    DEFAULT_CATEGORY, CA_FILE, CERTFILE, KEYFILE, ALLOW_INSECURE, LOCAL_HOSTNAME, MAX_TRIES,
    CHUNKING (BDAT when offered), CHUNKING_WINDOW, MAX_REPLY_LINES, MAX_REPLY_LINE, MAX_REPLY_BYTES,
    REPLY_TIMEOUT (seconds for a whole reply; unset: TIMEOUT).
    FastAPI: POOL_SIZE (pooled connections), TEMPLATE_FOLDER, STORE (event store: a SQLite path or
    a SQLAlchemy URL), SUPPRESS_SEND (validate and record, send nothing), OUTBOX_WORKER (the
    lifespan drains the outbox), OUTBOX_POLL (its seconds between drains), WEBHOOK_TOKEN,
    WEBHOOK_BASIC_AUTH (``user:pass`` pairs, comma-separated), WEBHOOK_SIGNING_SECRETS,
    WEBHOOK_INSECURE. Empty variables count as unset; other keys of a shared ``.env`` file are
    left to the rest of the application.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", env_file_encoding="utf-8", env_ignore_empty=True,
        extra="ignore", hide_input_in_errors=True, validate_default=False,
    )

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    username: str | None = None
    password: SecretStr | None = None
    auth_token: SecretStr | None = None
    security: Literal["starttls", "tls", "none"] | None = None
    timeout: float = 30.0
    default_from: str | None = None
    default_category: str | None = None
    ca_file: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    allow_insecure: bool = False
    local_hostname: str | None = None
    max_tries: int = 3
    chunking: bool = _RELAY_DEFAULTS.chunking
    chunking_window: int = _RELAY_DEFAULTS.chunking_window
    max_reply_lines: int = _RELAY_DEFAULTS.max_reply_lines
    max_reply_line: int = _RELAY_DEFAULTS.max_reply_line
    max_reply_bytes: int = _RELAY_DEFAULTS.max_reply_bytes
    reply_timeout: float | None = None

    pool_size: int = 4
    template_folder: Path | None = None
    store: str | None = None
    suppress_send: bool = False
    outbox_worker: bool = False
    outbox_poll: float = 1.0

    webhook_token: SecretStr | None = None
    webhook_basic_auth: SecretStr | None = None
    webhook_signing_secrets: SecretStr | None = None
    webhook_insecure: bool = False

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(exc) from None

    @field_validator("security", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    def relay_config(self, **overrides: Any) -> RelayConfig:
        """The core relay configuration; ``overrides`` (RelayConfig fields) win."""
        password = self.password or self.auth_token
        if self.password and self.auth_token and \
                self.password.get_secret_value() != self.auth_token.get_secret_value():
            raise ConfigError(env_name("auth_token"), f"give {env_name('password')} or "
                                                      f"{env_name('auth_token')}, not both")
        values: dict[str, Any] = {
            "host": self.host, "port": self.port, "username": self.username,
            "password": password.get_secret_value() if password else None,
            "security": self.security, "timeout": self.timeout, "default_from": self.default_from,
            "default_category": self.default_category, "ca_file": self.ca_file,
            "certfile": self.certfile, "keyfile": self.keyfile, "allow_insecure": self.allow_insecure,
            "local_hostname": self.local_hostname, "max_tries": self.max_tries,
            "chunking": self.chunking, "chunking_window": self.chunking_window,
            "max_reply_lines": self.max_reply_lines, "max_reply_line": self.max_reply_line,
            "max_reply_bytes": self.max_reply_bytes, "reply_timeout": self.reply_timeout,
        }
        values.update(overrides)
        names = {field: env_name(field) for field in values
                 if field in type(self).model_fields and field not in overrides}
        if "password" in names and not self.password and self.auth_token:
            names["password"] = env_name("auth_token")
        return config_from_settings(values, names)

    def webhook_options(self) -> dict[str, Any]:
        """The webhook settings for :func:`acumbamail_smtp.receiver_from_settings` (unset ones left
        out), for every field named after the core's :data:`~acumbamail_smtp.webhooks.WEBHOOK_KEYS`."""
        options: dict[str, Any] = {}
        for key, name in WEBHOOK_KEYS.items():
            value = getattr(self, key.lower(), None)
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            if value is not None and value is not False:
                options[name] = value
        return options


def _config_error(exc: ValidationError) -> ConfigError:
    """The first validation problem as a ConfigError naming its environment variable (no input)."""
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    location = first.get("loc") or ("settings",)
    field = str(location[0])
    problem = str(first.get("msg", "invalid value"))
    more = len(errors) - 1
    if more:
        problem += f" (and {more} more problem{'s' if more > 1 else ''})"
    return ConfigError(env_name(field), problem)
