"""The project's settings, read in one place: Django's ``EMAIL_*`` settings (or a ``MAILERS``
entry's ``OPTIONS``) for the relay, and one ``ACUMBAMAIL = {...}`` dict for everything of ours.

Every bad value raises :class:`~django.core.exceptions.ImproperlyConfigured` naming the setting
as the project wrote it (``EMAIL_PORT``, ``ACUMBAMAIL["DEFAULT_CATEGORY"]``,
``MAILERS["default"]["OPTIONS"]["port"]``); secrets are never part of the message.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from acumbamail_smtp.config import RelayConfig, config_from_settings
from acumbamail_smtp.errors import ConfigError
from acumbamail_smtp.message.categories import validate_category
from acumbamail_smtp.settings import to_bool, to_int, to_path, to_paths, to_seconds, to_text
from acumbamail_smtp.store.sqlite import EventStore
from acumbamail_smtp.webhooks.settings import WEBHOOK_KEYS as CORE_WEBHOOK_KEYS
from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

APP_NAME = "acumbamail_smtp.integrations.django"
BACKEND_PATH = f"{APP_NAME}.EmailBackend"


def _category(name: str, value: Any) -> str:
    try:
        return validate_category(value)
    except ValueError as exc:
        raise ConfigError(name, str(exc)) from None


def _as_is(name: str, value: Any) -> Any:
    return value


#: Every ``ACUMBAMAIL`` key: its converter and its default (None: unset).
KEYS: Mapping[str, tuple[Callable[[str, Any], Any], Any]] = {
    "DEFAULT_CATEGORY": (_category, None),
    "ALLOW_INSECURE": (to_bool, False),
    "CA_FILE": (to_path, None),
    "MAX_TRIES": (to_int, None),
    "CHUNKING": (to_bool, None),
    "CHUNKING_WINDOW": (to_int, None),
    "MAX_REPLY_LINES": (to_int, None),
    "MAX_REPLY_LINE": (to_int, None),
    "MAX_REPLY_BYTES": (to_int, None),
    "REPLY_TIMEOUT": (to_seconds, None),
    "LOCAL_HOSTNAME": (to_text, None),
    "SUPPRESSION": (to_bool, None),
    "STORE": (_as_is, None),
    "TEMPLATES": (to_paths, ()),
    "WEBHOOK_TOKEN": (_as_is, None),
    "WEBHOOK_BASIC_AUTH": (_as_is, None),
    "WEBHOOK_SIGNING_SECRETS": (_as_is, None),
    "WEBHOOK_INSECURE": (to_bool, False),
    "WEBHOOK_MAX_BODY": (to_int, None),
    "SOFT_BOUNCE_LIMIT": (to_int, None),
    "SOFT_BOUNCE_DAYS": (to_int, None),
    "TASK_BACKEND": (to_text, None),
}


def setting_name(key: str) -> str:
    """How the project writes our setting ``key``: ``ACUMBAMAIL["KEY"]``."""
    return f'ACUMBAMAIL["{key}"]'


def improperly(name: str, problem: str) -> ImproperlyConfigured:
    """The error for a bad setting: ``NAME: problem``."""
    return ImproperlyConfigured(f"{name}: {problem}")


def _project_dict() -> Mapping[str, Any]:
    value = getattr(settings, "ACUMBAMAIL", None)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise improperly("ACUMBAMAIL", f"must be a dict, got {type(value).__name__}")
    unknown = sorted(str(k) for k in value if k not in KEYS)
    if unknown:
        raise improperly(setting_name(unknown[0]), f"unknown setting; expected one of {', '.join(KEYS)}")
    return value


def option(key: str, overrides: Mapping[str, Any] | None = None, where: str | None = None) -> Any:
    """Our setting ``key``, converted: from ``overrides`` (a backend's keyword arguments or MAILERS
    ``OPTIONS``, lower-case keys, named by ``where``) when given there, else from ``ACUMBAMAIL``,
    else its default. The one place our settings are read."""
    convert, default = KEYS[key]
    project = _project_dict()
    name = option_source(key, overrides, where)
    if overrides is not None and overrides.get(key.lower()) is not None:
        value = overrides[key.lower()]
    elif project.get(key) is not None:
        value = project[key]
    else:
        return default
    try:
        return convert(name, value)
    except ConfigError as exc:
        raise improperly(name, exc.problem) from None


def option_source(key: str, overrides: Mapping[str, Any] | None = None, where: str | None = None) -> str:
    """How to name our setting ``key`` in an error: the MAILERS option or keyword argument that set
    it, else ``ACUMBAMAIL["KEY"]``."""
    if overrides is not None and overrides.get(key.lower()) is not None:
        return f'{where}["{key.lower()}"]' if where else f"{key.lower()}="
    return setting_name(key)


def app_installed() -> bool:
    return apps.is_installed(APP_NAME)


# -- the relay -----------------------------------------------------------------------------------

#: Django's settings for each backend argument, when the backend is not made from MAILERS.
DJANGO_SETTINGS = {
    "host": "EMAIL_HOST", "port": "EMAIL_PORT", "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD", "use_tls": "EMAIL_USE_TLS", "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT", "ssl_keyfile": "EMAIL_SSL_KEYFILE", "ssl_certfile": "EMAIL_SSL_CERTFILE",
}


#: Our ``ACUMBAMAIL`` keys (and backend arguments, in lower case) that are RelayConfig fields.
RELAY_KEYS: Mapping[str, str] = {
    key: key.lower() for key in ("DEFAULT_CATEGORY", "ALLOW_INSECURE", "CA_FILE", "MAX_TRIES",
                                 "LOCAL_HOSTNAME", "CHUNKING", "CHUNKING_WINDOW", "MAX_REPLY_LINES",
                                 "MAX_REPLY_LINE", "MAX_REPLY_BYTES", "REPLY_TIMEOUT")
}


def overridden(name: str) -> bool:
    """Whether the project set ``name`` (asked first: Django 6.1 warns when a deprecated
    ``EMAIL_*`` setting is read, and refuses it when MAILERS is defined)."""
    return settings.is_overridden(name) and hasattr(settings, name)


def relay_config(arguments: Mapping[str, Any], alias: str | None = None) -> RelayConfig:
    """The :class:`RelayConfig` for a backend made with ``arguments`` (its keyword arguments).

    Without ``alias`` each argument left None falls back to Django's ``EMAIL_*`` setting, as
    Django's SMTP backend does; settings the project did not set keep the core's defaults (host
    ``smtp.acumbamail.com``). With ``alias`` (Django 6.1 ``MAILERS``) only ``OPTIONS`` count.
    When neither TLS nor SSL is asked for, the core's port table picks the security.
    """
    where = f'MAILERS["{alias}"]["OPTIONS"]' if alias is not None else None
    values: dict[str, Any] = {}
    names: dict[str, str] = {}

    def given(arg: str) -> tuple[str, Any] | None:
        value = arguments.get(arg)
        if value is not None and not (arg in ("host", "port") and not value):
            return (f'{where}["{arg}"]' if where else f"{arg}="), value
        setting = DJANGO_SETTINGS[arg]
        if alias is None and overridden(setting):
            value = getattr(settings, setting)
            if value is not None and value != "":
                return setting, value
        return None

    def take(arg: str, field: str, convert: Callable[[str, Any], Any]) -> None:
        found = given(arg)
        if found is not None:
            names[field] = found[0]
            try:
                values[field] = convert(*found)
            except ConfigError as exc:
                raise improperly(found[0], exc.problem) from None

    fields = {"host": "host", "port": "port", "username": "username", "password": "password",
              "timeout": "timeout", "ssl_certfile": "certfile", "ssl_keyfile": "keyfile",
              "use_tls": "security"}
    for arg, field in fields.items():  # where a missing value would be set
        names[field] = f'{where}["{arg}"]' if where else DJANGO_SETTINGS[arg]
    take("host", "host", to_text)
    take("port", "port", to_int)
    take("username", "username", to_text)
    take("password", "password", to_text)
    take("timeout", "timeout", to_seconds)
    take("ssl_certfile", "certfile", to_path)
    take("ssl_keyfile", "keyfile", to_path)
    tls, ssl = given("use_tls"), given("use_ssl")
    use_tls = tls is not None and _bool(*tls)
    use_ssl = ssl is not None and _bool(*ssl)
    if tls is not None and ssl is not None and use_tls and use_ssl:
        raise improperly(f"{tls[0]} and {ssl[0]}", "are both true; choose one (use_ssl: implicit TLS, "
                                                   "ports 465 and 2525; use_tls: STARTTLS, port 587)")
    if tls is not None or ssl is not None:
        values["security"] = "tls" if use_ssl else "starttls" if use_tls else "none"
        chosen = ssl if ssl is not None and (use_ssl or tls is None) else tls
        assert chosen is not None
        names["security"] = chosen[0]
    for key, field in RELAY_KEYS.items():
        value = option(key, arguments, where)
        if value is not None:  # False counts: CHUNKING = False turns BDAT off
            values[field] = value
        names[field] = option_source(key, arguments, where)
    names.setdefault("allow_insecure", setting_name("ALLOW_INSECURE"))
    try:
        return config_from_settings(values, names)
    except ConfigError as exc:
        raise improperly(exc.field, exc.problem) from None


def _bool(name: str, value: Any) -> bool:
    try:
        return to_bool(name, value)
    except ConfigError as exc:
        raise improperly(name, exc.problem) from None


# -- the event store -----------------------------------------------------------------------------

_stores: dict[str, EventStore] = {}
_stores_lock = threading.Lock()


def event_store(arguments: Mapping[str, Any] | None = None, where: str | None = None) -> EventStore | None:
    """The event store: ``STORE`` (``"django"``, a dotted path to an EventStore or to a callable
    returning one, an EventStore object, or False for none), by default ``"django"`` when the app
    is installed, else None. Stores named by a path are made once and shared."""
    value = option("STORE", arguments, where)
    if value is False:
        return None
    name = option_source("STORE", arguments, where)
    if value is None:
        if not app_installed():
            return None
        value = "django"
    if isinstance(value, EventStore):
        return value
    if not isinstance(value, str) or not value.strip():
        raise improperly(name, "must be \"django\", a dotted path to an event store, or an EventStore")
    with _stores_lock:
        store = _stores.get(value)
        if store is None:
            store = _make_store(name, value)
            _stores[value] = store
    return store


def _make_store(name: str, value: str) -> EventStore:
    if value == "django":
        if not app_installed():
            raise improperly(name, f"\"django\" needs {APP_NAME!r} in INSTALLED_APPS")
        from .store import DjangoEventStore

        return DjangoEventStore()
    try:
        target = import_string(value)
    except ImportError as exc:
        raise improperly(name, f"cannot import {value!r}: {exc}") from None
    try:
        store = target if isinstance(target, EventStore) else target() if callable(target) else target
    except ConfigError as exc:
        raise improperly(name, f"{exc.field}: {exc.problem}") from None
    if not isinstance(store, EventStore):
        raise improperly(name, f"{value!r} is not an EventStore (nor a callable returning one)")
    return store


def suppression(arguments: Mapping[str, Any] | None = None, where: str | None = None,
                store: EventStore | None = None) -> bool:
    """Whether suppressed recipients are skipped: ``SUPPRESSION``, by default on when there is a
    store. On without a store is a configuration error."""
    value = option("SUPPRESSION", arguments, where)
    if value is None:
        return store is not None
    if value and store is None:
        raise improperly(option_source("SUPPRESSION", arguments, where),
                         f"needs an event store: add {APP_NAME!r} to INSTALLED_APPS or set "
                         f"{setting_name('STORE')}")
    return bool(value)


# -- webhooks and templates ----------------------------------------------------------------------

def webhook_settings() -> dict[str, Any]:
    """The webhook settings under the names ``receiver_from_settings`` takes."""
    return {name: option(key) for key, name in CORE_WEBHOOK_KEYS.items()}


#: The setting behind each ``receiver_from_settings`` name, for its errors.
WEBHOOK_NAMES: Mapping[str, str] = {name: setting_name(key) for key, name in CORE_WEBHOOK_KEYS.items()}


def template_folders() -> tuple[str, ...]:
    """The folders of ``ACUMBAMAIL["TEMPLATES"]`` for the core renderer."""
    folders: tuple[str, ...] = option("TEMPLATES")
    return folders


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    """Tests change settings: stores made from the old ones are dropped."""
    if setting in ("ACUMBAMAIL", "INSTALLED_APPS"):
        with _stores_lock:
            _stores.clear()
