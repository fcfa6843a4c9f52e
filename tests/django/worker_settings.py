"""Settings of the ``db_worker`` subprocess in test_django_tasks_db: the tests' settings, with the
values the parent test passes as JSON in ACUMBAMAIL_WORKER_SETTINGS (its test database file, its
TASKS, the fake relay's EMAIL_* and ACUMBAMAIL), so the worker sees what the test process sees."""

from __future__ import annotations

import json
import os

from .settings import *  # noqa: F403

globals().update(json.loads(os.environ["ACUMBAMAIL_WORKER_SETTINGS"]))
