"""The admin: sends and events to look at (read-only), the suppression list to edit, the outbox
(read-only, with retry and purge actions)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from .models import Event, QueuedEmail, Send, Suppression
from .outbox import DjangoOutboxBackend
from .reports import install_admin_reports


class ReadOnlyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Rows written by the mailer and the webhook: viewable, never edited by hand."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Send)
class SendAdmin(ReadOnlyAdmin):
    list_display = ("sent_at", "recipient", "status", "category", "queue_id", "message_id")
    list_filter = ("status", "category")
    search_fields = ("recipient", "message_id", "queue_id")
    date_hierarchy = "sent_at"


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("timestamp", "type", "recipient", "category", "message_key", "url")
    list_filter = ("type", "category")
    search_fields = ("recipient", "message_key", "message_id", "url")
    date_hierarchy = "timestamp"


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Add an address to stop mailing it; delete one to mail it again."""

    list_display = ("address", "reason", "created_at", "event_id")
    list_filter = ("reason",)
    search_fields = ("address",)
    fields = ("address", "reason", "event_id", "created_at")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return ("address", "event_id", "created_at") if obj is not None else ("event_id", "created_at")


# The report (staff only) beside the models: <admin>/acumbamail/reports/, over the app's store.
install_admin_reports(site=admin.site)


@admin.register(QueuedEmail)
class QueuedEmailAdmin(ReadOnlyAdmin):
    """The outbox: what waits, what failed and why; failed ones can be queued again."""

    list_display = ("created_at", "status", "message_id", "category", "attempts", "send_after", "last_error")
    list_filter = ("status", "category")
    search_fields = ("message_id", "sender", "queue_id")
    exclude = ("data",)
    actions = ("retry", "purge")

    @admin.action(description="Queue the selected failed messages again")
    def retry(self, request: HttpRequest, queryset: QuerySet[QueuedEmail]) -> None:
        count = DjangoOutboxBackend().retry(list(queryset.values_list("message_id", flat=True)))
        self.message_user(request, f"{count} message(s) queued again.")

    @admin.action(description="Delete the selected sent or failed messages")
    def purge(self, request: HttpRequest, queryset: QuerySet[QueuedEmail]) -> None:
        deleted, _ = queryset.filter(status__in=("sent", "failed")).delete()
        self.message_user(request, f"{deleted} message(s) deleted.")
