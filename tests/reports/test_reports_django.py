"""The report in the Django admin: staff only, linked from the admin index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from acumbamail_smtp import SQLiteEventStore

from tests.reports.web_checks import check_views

URLCONF = "tests.reports.django_urls"


@pytest.fixture(scope="module")
def django_ready() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(
            SECRET_KEY="made-up-key-for-the-report-tests",
            INSTALLED_APPS=["django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes",
                            "django.contrib.sessions", "django.contrib.messages"],
            MIDDLEWARE=["django.contrib.sessions.middleware.SessionMiddleware",
                        "django.contrib.auth.middleware.AuthenticationMiddleware",
                        "django.contrib.messages.middleware.MessageMiddleware"],
            TEMPLATES=[{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True,
                        "OPTIONS": {"context_processors": [
                            "django.template.context_processors.request",
                            "django.contrib.auth.context_processors.auth",
                            "django.contrib.messages.context_processors.messages"]}}],
            DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
            ROOT_URLCONF=URLCONF, USE_TZ=True,
        )
        django.setup()
    from django.apps import apps

    assert apps.is_installed("django.contrib.admin"), "these tests need django.contrib.admin installed"


@pytest.fixture
def client(django_ready: None, store: SQLiteEventStore, request: pytest.FixtureRequest) -> Iterator[Any]:
    from django.test import Client
    from django.test.utils import override_settings

    from tests.reports import django_urls

    if request.getfixturevalue("django_db_blocker") is not None:
        request.getfixturevalue("db")  # pytest-django's test database (and its rollback)
    else:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)

    django_urls.CURRENT["store"] = store
    with override_settings(ROOT_URLCONF=URLCONF):
        yield Client()
    django_urls.CURRENT.clear()


def user(name: str, *, staff: bool) -> Any:
    from django.contrib.auth.models import User

    found = User.objects.filter(username=name).first()
    return found or User.objects.create_user(name, password="made-up-pass", is_staff=staff)


def test_staff_see_the_report_linked_from_the_admin_index(client: Any) -> None:
    client.force_login(user("staff", staff=True))
    index = client.get("/admin/")
    assert index.status_code == 200
    assert b'href="/admin/acumbamail/reports/"' in index.content and b">Reports</a>" in index.content

    def get(path: str) -> tuple[int, dict[str, str], bytes]:
        response = client.get(path)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        return response.status_code, {k.lower(): v for k, v in response.headers.items()}, body

    check_views(get, "/admin/acumbamail/reports/")


def test_anonymous_users_are_sent_to_the_login(client: Any) -> None:
    for path in ("/admin/acumbamail/reports/", "/admin/acumbamail/reports/summary.json",
                 "/admin/acumbamail/reports/recipients.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/?next=/admin/acumbamail/reports/")


def test_users_who_are_not_staff_are_refused(client: Any) -> None:
    client.force_login(user("customer", staff=False))
    response = client.get("/admin/acumbamail/reports/recipients.json")
    assert response.status_code == 302 and b"example.org" not in response.content
