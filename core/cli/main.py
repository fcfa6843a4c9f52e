"""The ``acumbamail-smtp`` command line.

Each feature keeps its own sub-commands in its own module, which defines
``register(subparsers)``; the modules are found through the :data:`ENTRY_POINT_GROUP` entry points
and imported lazily, so that a missing optional dependency only breaks its own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points

from ..errors import AcumbamailError

#: The entry-point group through which command modules register: each names a module with
#: ``register(subparsers) -> None``, and every parser it adds sets ``func=callable(args) -> int``
#: through ``set_defaults``. The test server registers its own commands this way.
ENTRY_POINT_GROUP = "acumbamail_smtp.commands"

#: The core's own command modules, also listed under the entry-point group in pyproject.toml; kept
#: here so the command line works from a source tree whose metadata is stale.
CORE_COMMANDS: tuple[str, ...] = (
    "acumbamail_smtp.cli.relay",
    "acumbamail_smtp.cli.templates",
    "acumbamail_smtp.cli.webhooks",
    "acumbamail_smtp.cli.reports",
    "acumbamail_smtp.cli.outbox",
)


def command_modules() -> list[tuple[str, str]]:
    """``(name, module)`` of every command group: the core's, then those of installed entry points."""
    found = {module.rsplit(".", 1)[-1]: module for module in CORE_COMMANDS}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return list(found.items())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acumbamail-smtp",
        description="Send transactional mail through Acumbamail's SMTP relay, and test it locally.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for label, name in command_modules():
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            stub = subparsers.add_parser(label, help=f"unavailable: {missing} is not installed")
            stub.set_defaults(func=_unavailable(str(missing)))
            continue
        module.register(subparsers)
    return parser


def _unavailable(missing: str):  # type: ignore[no-untyped-def]
    def run(args: argparse.Namespace) -> int:
        print(f"this command needs {missing}: pip install 'acumbamail-smtp[dev]'", file=sys.stderr)
        return 2

    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        return int(func(args) or 0)
    except AcumbamailError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
