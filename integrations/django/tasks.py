"""The Django Tasks task that drains the outbox (``django.tasks`` on Django 6.x, the
``django-tasks`` backport on 5.2; any task backend: ``django_tasks_db.DatabaseBackend`` with its
``db_worker``, or the immediate backend). ``QueuedEmailBackend`` enqueues it on commit when
``ACUMBAMAIL["TASK_BACKEND"]`` names a ``TASKS`` alias."""

from __future__ import annotations

import importlib
from typing import Any


def _task_framework() -> Any:
    """``django.tasks`` when Django has it, else the backport (imported by name: only one exists)."""
    try:
        return importlib.import_module("django.tasks")
    except ImportError:
        return importlib.import_module("django_tasks")


@_task_framework().task()  # type: ignore[untyped-decorator]  # the framework is imported by name
def drain_outbox() -> int:
    """The task (``drain_outbox.enqueue()``): send every message due when it runs; how many were
    sent. Decorated under its own name: a database backend stores the function's dotted path and
    its worker imports that path, which must be the task, not the bare function."""
    from .worker import drain_from_settings

    return drain_from_settings().sent


def enqueue_drain(alias: str) -> Any:
    """Enqueue :data:`drain_outbox` on the task backend ``alias``; its result handle."""
    return drain_outbox.using(backend=alias).enqueue()
