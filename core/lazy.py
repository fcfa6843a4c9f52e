"""Names a package exports but imports only on first use (PEP 562), so that importing the package
stays cheap and an optional dependency is needed only by the code that uses it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: each name in ``homes`` is imported from its
    module (relative, e.g. ``".relay"``) on first access, then kept in the package."""

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home, package), name)
        vars(sys.modules[package])[name] = value
        return value

    return __getattr__


def homes(module: str, *names: str) -> dict[str, str]:
    """``{name: module}`` for each of ``names``: one line of a package's map for :func:`lazy_exports`."""
    return dict.fromkeys(names, module)
