"""The store package's modules import each other without a circle (not even inside a function or
under TYPE_CHECKING), and the SQLite side never loads SQLAlchemy."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import acumbamail_smtp.store

STORE = Path(acumbamail_smtp.store.__file__).parent


def _imports(path: Path) -> set[str]:
    """The sibling modules ``path`` imports anywhere in it (``from .x import``, ``from . import x``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.update([node.module.split(".")[0]] if node.module else [a.name for a in node.names])
    return found


def test_the_store_modules_form_no_import_circle() -> None:
    graph = {p.stem: _imports(p) for p in STORE.glob("*.py") if p.stem != "__init__"}
    assert {"protocols", "schema", "common", "join", "sqlite", "sqlalchemy", "open"} <= set(graph)
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as exc:  # the failure names the circle
        raise AssertionError(f"import circle in acumbamail_smtp.store: {exc.args[1]}") from None
    assert order.index("protocols") < order.index("sqlite")
    assert "open" not in graph["sqlite"] | graph["sqlalchemy"]
    assert graph["protocols"] == set()  # what a store is depends on no store


def test_the_sqlite_store_and_the_package_do_not_load_sqlalchemy() -> None:
    code = ("import sys, acumbamail_smtp.store as s; s.EventStore; s.open_store; "
            "from acumbamail_smtp.store.sqlite import SQLiteEventStore; "
            "SQLiteEventStore(':memory:').close(); print('sqlalchemy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
