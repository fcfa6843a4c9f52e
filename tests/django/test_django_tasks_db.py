"""Django Tasks with the django-tasks-db database backend and its real worker: QueuedEmailBackend
enqueues the drain task when the transaction commits, ``db_worker --batch`` (a subprocess on the
test database file) runs it and the message reaches the fake relay once; a rollback enqueues nothing.

The backend's dotted path is ``django_tasks_db.DatabaseBackend`` on both Django 5.2 (with the
``django-tasks`` backport) and 6.x (``django.tasks``): the package picks the framework itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from acumbamail_smtp.integrations.django.models import QueuedEmail
from django.conf import settings as django_settings
from django.core import mail
from django.db import connection, transaction
from django_tasks_db.models import DBTaskResult

ROOT = Path(__file__).resolve().parents[2]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
pytestmark = pytest.mark.django_db(transaction=True)  # committed rows, visible to the worker process


@pytest.fixture
def tasked(settings: Any, use_relay: Any) -> Any:
    """QueuedEmailBackend enqueueing the drain on the database task backend, at the fake relay."""
    settings.EMAIL_BACKEND = "acumbamail_smtp.integrations.django.QueuedEmailBackend"
    settings.TASKS = TASKS
    settings.ACUMBAMAIL = {**settings.ACUMBAMAIL, "TASK_BACKEND": "default"}
    return use_relay


def run_db_worker() -> subprocess.CompletedProcess[str]:
    """``manage.py db_worker --batch`` in a child process on this test database: it runs every
    queued task, then exits (bounded by a timeout in case it does not)."""
    names = ("EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER", "EMAIL_HOST_PASSWORD", "ACUMBAMAIL", "TASKS")
    overrides = {name: getattr(django_settings, name) for name in names}
    overrides["DATABASES"] = {"default": {**django_settings.DATABASES["default"],
                                          "NAME": str(connection.settings_dict["NAME"])}}
    env = {**os.environ, "ACUMBAMAIL_WORKER_SETTINGS": json.dumps(overrides, default=str),
           "ACUMBAMAIL_DJANGO_TEST_DIR": str(Path(connection.settings_dict["NAME"]).parent),
           "DJANGO_SETTINGS_MODULE": "tests.django.worker_settings", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "django", "db_worker", "--batch", "--no-startup-delay", "--no-reload"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_the_db_worker_sends_what_a_committed_transaction_queued(tasked) -> None:
    with transaction.atomic():
        mail.send_mail("Tasked", "b", None, ["ana@example.com"])
        assert DBTaskResult.objects.count() == 0  # enqueued on commit, not before
    [task] = DBTaskResult.objects.all()
    assert task.status == "READY"
    assert tasked.messages == []  # nothing sends until the worker runs

    worker = run_db_worker()
    assert worker.returncode == 0, worker.stderr

    [received] = tasked.wait_for(1)
    row = QueuedEmail.objects.get()
    assert (received.subject, row.status) == ("Tasked", "sent")
    assert Counter(m.message.get("Message-ID") for m in tasked.messages) == {row.message_id: 1}
    task.refresh_from_db()
    assert (task.status, task.return_value) == ("SUCCESSFUL", 1)


def test_a_rolled_back_transaction_enqueues_no_task(tasked) -> None:
    def order() -> None:
        with transaction.atomic():
            mail.send_mail("Rolled back", "b", None, ["ana@example.com"])
            raise RuntimeError("the order failed")

    with pytest.raises(RuntimeError):
        order()
    assert (QueuedEmail.objects.count(), DBTaskResult.objects.count()) == (0, 0)
    assert run_db_worker().returncode == 0
    assert tasked.messages == []
