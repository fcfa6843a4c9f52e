"""Turning a framework's setting values into typed ones: the single copy of the coercions every
adapter needs (Django's ``ACUMBAMAIL`` dict, Flask's ``app.config``, environment variables).

Each converter takes the setting's name (as the project writes it) and its value, and raises
:class:`~acumbamail_smtp.ConfigError` naming that setting. Converters marked for secrets never put
the value in the error: only its type or position.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from .errors import ConfigError

T = TypeVar("T")

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})
_LIST_SEPARATORS = re.compile(r"[,\s]+")


def is_unset(value: object) -> bool:
    """Whether a setting counts as not given: None or the empty string."""
    return value is None or value == ""


def to_bool(name: str, value: object) -> bool:
    """A boolean from a bool, 0/1 or a string such as ``"true"``, ``"off"`` or ``"0"``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ConfigError(name, f"must be true or false, got {value!r}")


def to_int(name: str, value: object) -> int:
    """An integer from an int or its text (white space ignored); a bool is refused."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ConfigError(name, f"must be an integer, got {value!r}")


def to_seconds(name: str, value: object) -> float:
    """A number of seconds from an int, a float or their text; a bool is refused."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ConfigError(name, f"must be a number of seconds, got {value!r}")


def to_text(name: str, value: object) -> str:
    """The value itself when it is a string (it may be a secret, so only its type is named)."""
    if not isinstance(value, str):
        raise ConfigError(name, f"must be a string, got {type(value).__name__}")
    return value


def to_path(name: str, value: object) -> str:
    """A file or folder path from a string or an ``os.PathLike``."""
    if not isinstance(value, str | os.PathLike):
        raise ConfigError(name, f"must be a file path, got {type(value).__name__}")
    return os.fspath(value)


def to_paths(name: str, value: object) -> tuple[str, ...]:
    """One folder or a list (or tuple) of folders, as path strings."""
    items = [value] if isinstance(value, str | os.PathLike) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(name, f"must be a folder or a list of folders, got {type(value).__name__}")
    return tuple(to_path(name, item) for item in items)


def to_list(name: str, value: object) -> list[str]:
    """Strings from a list or tuple of strings, or one string separated by commas or white space
    (for secrets such as signing keys: the error names only the position of a bad item)."""
    if isinstance(value, str):
        return [item for item in _LIST_SEPARATORS.split(value) if item]
    if not isinstance(value, list | tuple):
        raise ConfigError(name, f"must be a list of strings, got {type(value).__name__}")
    for position, item in enumerate(value, 1):
        if not isinstance(item, str):
            raise ConfigError(name, f"item #{position} must be a string, got {type(item).__name__}")
    return list(value)


def to_credentials(name: str, value: object) -> list[tuple[str, str]]:
    """``(user, password)`` pairs from a list of pairs or ``"user:password"`` strings (taken as
    they are), or one string of ``user:password`` entries separated by commas, white space around
    each ignored: a password with a comma, or white space at either end, must be given in a list.
    Errors name the position of a bad entry, never the entry."""
    if isinstance(value, str):
        entries: list[Any] = [entry.strip() for entry in value.split(",") if entry.strip()]
    elif isinstance(value, list | tuple):
        entries = list(value)
    else:
        raise ConfigError(name, f"must be a list of (user, password) pairs, got {type(value).__name__}")
    pairs: list[tuple[str, str]] = []
    for position, entry in enumerate(entries, 1):
        if isinstance(entry, str):
            user, sep, password = entry.partition(":")
            if not sep:
                raise ConfigError(name, "each credential must be written user:password")
            pairs.append((user, password))
        elif isinstance(entry, tuple | list) and len(entry) == 2 and all(isinstance(p, str) for p in entry):
            pairs.append((entry[0], entry[1]))
        else:
            raise ConfigError(name, f"credential #{position} must be a (user, password) pair of strings")
    return pairs


def pick(values: Mapping[str, Any], *keys: str) -> tuple[str, Any] | None:
    """The first of ``keys`` that is set in ``values`` (see :func:`is_unset`), with its value."""
    for key in keys:
        value = values.get(key)
        if not is_unset(value):
            return key, value
    return None


def read(values: Mapping[str, Any], key: str, convert: Callable[[str, Any], T],
         default: T | None = None, *, name: str | None = None) -> T | None:
    """``values[key]`` converted, or ``default`` when it is unset; errors name ``name`` (by
    default ``key``)."""
    value = values.get(key)
    if is_unset(value):
        return default
    return convert(name or key, value)
