"""The ``acumbamail-smtp`` command line.

Each feature keeps its own sub-commands in its own module, which defines
``register(subparsers)``; the modules are listed in :data:`COMMAND_MODULES` and imported lazily
so that a missing optional dependency only breaks its own command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from .errors import AcumbamailError

#: Modules that add sub-commands: each has ``register(subparsers) -> None`` and every parser it adds
#: sets ``func=callable(args) -> int`` through ``set_defaults``.
COMMAND_MODULES: tuple[str, ...] = (
    "acumbamail_smtp.relay_cli",
    "acumbamail_smtp.testserver.cli",
    "acumbamail_smtp.templates_cli",
    "acumbamail_smtp.webhooks_cli",
    "acumbamail_smtp.reports_cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="acumbamail-smtp",
        description="Send transactional mail through Acumbamail's SMTP relay, and test it locally.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            missing = getattr(exc, "name", None) or str(exc)
            stub = subparsers.add_parser(name.rsplit(".", 1)[-1].removesuffix("_cli"),
                                         help=f"unavailable: {missing} is not installed")
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
