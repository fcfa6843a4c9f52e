"""The report in the Django admin: staff only (every view is wrapped with the admin site's
``admin_view``, so anonymous users are sent to the admin login), linked from the admin index.

In your root ``urls.py`` (or an ``AppConfig.ready()``), before ``admin.site.urls`` is used::

    from acumbamail_smtp.integrations.django.reports import install_admin_reports
    install_admin_reports()          # or install_admin_reports(store=..., site=my_site)

The report is then at ``<admin>/acumbamail/reports/`` with ``summary.json``, ``recipients.json``
and ``recipients.csv`` beside it. With the app in ``INSTALLED_APPS`` this is done for
``admin.site`` automatically, over the app's own event store. Without the app and without a
``store``, the one named by the setting ``ACUMBAMAIL_STORE`` (a SQLite path or SQLAlchemy URL),
else ``$ACUMBAMAIL_STORE``, is opened on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from acumbamail_smtp.reports import ENDPOINTS, Answer, Endpoint, StoreSource, answer
from acumbamail_smtp.store.open import open_store
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.functional import LazyObject

URL_NAME = "acumbamail_reports"
APP_LABEL = "acumbamail_reports"

_lock = threading.Lock()
_opened: dict[str, object] = {}


def settings_store() -> object:
    """The app's event store (``ACUMBAMAIL["STORE"]``, the ORM store by default when the app is
    installed); otherwise the one named by ``settings.ACUMBAMAIL_STORE`` (else
    ``$ACUMBAMAIL_STORE``), opened once."""
    from django.apps import apps

    if apps.is_installed("acumbamail_smtp.integrations.django"):
        from .conf import event_store

        configured = event_store()
        if configured is not None:
            return configured
    location = getattr(settings, "ACUMBAMAIL_STORE", None)
    key = str(location)
    with _lock:
        if key not in _opened:
            _opened[key] = open_store(location)
        return _opened[key]


def _view(store: StoreSource, endpoint: Endpoint) -> Callable[..., HttpResponseBase]:
    def view(request: HttpRequest) -> HttpResponseBase:
        return _response(answer(endpoint, store, request.GET.dict()))

    return view


def _response(result: Answer) -> HttpResponseBase:
    response: HttpResponseBase
    if isinstance(result.body, dict):
        response = JsonResponse(result.body, status=result.status)
    elif isinstance(result.body, str):
        response = HttpResponse(result.body, status=result.status, content_type=result.content_type)
    else:
        response = StreamingHttpResponse(result.body, status=result.status, content_type=result.content_type)
    for name, value in result.headers.items():
        response[name] = value
    return response


def report_urls(store: StoreSource = settings_store, site: admin.AdminSite = admin.site) -> list[URLPattern]:
    """The report's URL patterns, each view wrapped with ``site.admin_view`` (staff only)."""
    return [path(f"acumbamail/reports/{route}", site.admin_view(_view(store, endpoint)),
                 name=URL_NAME + suffix) for route, suffix, endpoint in ENDPOINTS]


def install_admin_reports(store: StoreSource = settings_store, site: admin.AdminSite = admin.site) -> None:
    """Add the report to ``site``: its URLs, and an "Acumbamail / Reports" entry on the admin
    index and sidebar. Call it once, before the site's URLs are loaded (a second call is a no-op)."""
    if isinstance(site, LazyObject):  # django.contrib.admin.site is a lazy proxy
        site.name  # noqa: B018 (makes the proxy build the real site)
        site = site._wrapped
    if getattr(site, "_acumbamail_reports", False):
        return
    get_urls, get_app_list = site.get_urls, site.get_app_list

    def urls() -> list[Any]:
        return [*report_urls(store, site), *get_urls()]

    def app_list(request: HttpRequest, app_label: str | None = None) -> list[Any]:
        apps = list(get_app_list(request, app_label))
        if app_label is None and getattr(request.user, "is_staff", False):
            url = reverse(f"{site.name}:{URL_NAME}")
            apps.append({"name": "Acumbamail", "app_label": APP_LABEL, "app_url": url,
                         "has_module_perms": True,
                         "models": [{"name": "Reports", "object_name": "Report", "admin_url": url,
                                     "add_url": None, "view_only": True, "perms": {"view": True}}]})
        return apps

    # instance attributes shadow the class's methods for this site only
    vars(site).update(get_urls=urls, get_app_list=app_list, _acumbamail_reports=True)


__all__ = ["install_admin_reports", "report_urls", "settings_store"]
