"""No module of the package imports another that imports it back, directly or around a longer
circle, counting imports inside functions and under ``TYPE_CHECKING`` (grimp sees both).

A circle is kept out even when it only runs late: it means the two modules are one concept split
in two files, or that one of them needs a lower layer it does not have yet. The graph is built
from a copy of the source folders laid out as the installed package (pyproject's ``package-dir``),
so the check does not depend on how the package is installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Runs in a fresh interpreter whose path holds only the copied package: prints the import graph
#: among the package's own modules as {module: [imported modules]}.
GRAPH = r"""
import json, grimp
graph = grimp.build_graph("acumbamail_smtp", cache_dir=None)
print(json.dumps({m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}))
"""


def package_copy(target: Path) -> Path:
    """The source folders copied to ``target`` in the installed layout; returns ``target``."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for dotted, folder in sorted(mapping.items()):  # parents before children
        shutil.copytree(ROOT / folder, target.joinpath(*dotted.split(".")),
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"), dirs_exist_ok=True)
    return target


def import_graph(tmp_path: Path) -> dict[str, list[str]]:
    """Every module of the package and the package modules it imports."""
    path_line = f"import sys; sys.path.insert(0, {str(package_copy(tmp_path))!r})\n"
    out = subprocess.run([sys.executable, "-I", "-c", path_line + GRAPH], capture_output=True, text=True,
                         check=True)
    graph: dict[str, list[str]] = json.loads(out.stdout)
    return graph


def cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each strongly connected group of two or more modules (Tarjan), as one shortest circle
    through it, starting at its smallest name, so a report reads as ``a -> b -> a``."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted((shortest_circle(graph, group) for group in groups), key=lambda c: c[0])


def shortest_circle(graph: dict[str, list[str]], group: set[str]) -> list[str]:
    """The shortest path from the group's smallest module back to itself (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in graph[node]:
            if nxt == start:
                return [*paths[node], start]
            if nxt in group and nxt not in paths:
                paths[nxt] = [*paths[node], nxt]
                queue.append(nxt)
    raise AssertionError(f"no circle through {start}")  # a strongly connected group always has one


def describe(graph: dict[str, list[str]], circle: list[str]) -> str:
    """One circle and, below it, every import among the modules it ties together (each is a
    candidate to move or invert)."""
    knot = knot_of(graph, circle[0])
    edges = [f"    {source} imports {target}" for source in sorted(knot) for target in graph[source]
             if target in knot]
    return "\n".join([" -> ".join(circle), *edges])


def knot_of(graph: dict[str, list[str]], start: str) -> set[str]:
    """The modules reachable from ``start`` that also reach back to it."""
    def reach(begin: str, edges: dict[str, list[str]]) -> set[str]:
        seen, todo = {begin}, [begin]
        while todo:
            for nxt in edges.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reverse: dict[str, list[str]] = {}
    for source, targets in graph.items():
        for target in targets:
            reverse.setdefault(target, []).append(source)
    return reach(start, graph) & reach(start, reverse)


def test_cycle_finder_reports_each_circle() -> None:
    graph = {"a": ["b"], "b": ["c", "a"], "c": ["b"], "d": ["d", "a"], "e": []}
    assert cycles(graph) == [["a", "b", "a"]]
    assert knot_of(graph, "a") == {"a", "b", "c"}
    assert describe(graph, ["a", "b", "a"]).splitlines() == [
        "a -> b -> a", "    a imports b", "    b imports c", "    b imports a", "    c imports b"]


def test_no_module_imports_another_that_imports_it_back(tmp_path: Path) -> None:
    graph = import_graph(tmp_path)
    assert "acumbamail_smtp.integrations.django" in graph  # the whole package was seen
    found = cycles(graph)
    report = "\n".join(describe(graph, circle) for circle in found)
    print(f"{len(found)} import circle(s) among {len(graph)} modules:\n{report}")
    assert not found, f"{len(found)} import circle(s):\n{report}"
