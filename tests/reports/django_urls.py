"""URLconf of the Django report test: an admin site with the report installed."""

from acumbamail_smtp.integrations.django.reports import install_admin_reports
from django.contrib import admin
from django.urls import path

#: The test puts the store here; the views call the factory on each request.
CURRENT: dict[str, object] = {}

site = admin.AdminSite(name="reports_admin")
install_admin_reports(store=lambda: CURRENT["store"], site=site)
install_admin_reports(store=lambda: None, site=site)  # a second call changes nothing

urlpatterns = [path("admin/", site.urls)]
