"""Django settings of the adapter's tests: a file SQLite database (threads of the live webhook
server and the concurrency tests share it), the app, the admin, and made-up credentials."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
_DB_DIR = Path(os.environ.get("ACUMBAMAIL_DJANGO_TEST_DIR") or tempfile.mkdtemp(prefix="acumbamail-django-"))

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
USE_TZ = True
TIME_ZONE = "Europe/Madrid"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "acumbamail_smtp.integrations.django",
    "django_tasks_db",  # Django Tasks' database backend, for the db_worker test
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "tests.django.urls"
TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "DIRS": [HERE / "templates"],
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": [
        "django.template.context_processors.request",
        "django.contrib.auth.context_processors.auth",
        "django.contrib.messages.context_processors.messages",
    ]},
}]
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(_DB_DIR / "app.sqlite3"),
        "TEST": {"NAME": str(_DB_DIR / "test.sqlite3")},
        # One writer at a time, waiting instead of failing: threads write concurrently in tests.
        "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DEFAULT_FROM_EMAIL = "Shop <shop@example.com>"
SERVER_EMAIL = "server@example.com"
ADMINS = [("Ops", "ops@example.com")]
EMAIL_SUBJECT_PREFIX = "[shop] "

WEBHOOK_TOKEN = "tok-5b1e0c7a9d3f4e21"
ACUMBAMAIL = {
    "WEBHOOK_TOKEN": WEBHOOK_TOKEN,
    "TEMPLATES": [str(HERE / "mail_templates")],
}
