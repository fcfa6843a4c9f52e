"""The ``acumbamail-smtp`` command line: one module a command group."""

from .main import main

__all__ = ["main"]
