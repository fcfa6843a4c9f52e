from django.contrib import admin
from django.urls import include, path

from .async_views import signup

urlpatterns = [
    path("admin/", admin.site.urls),
    path("acumbamail/", include("acumbamail_smtp.integrations.django.urls")),
    path("async-signup/", signup),
]
