from django.contrib import admin

from access.admin_mixins import ReadOnlyAdmin
from webhooks.models import WebhookEvent


@admin.register(WebhookEvent)
class WebhookEventAdmin(ReadOnlyAdmin):
    list_display = (
        "received_at",
        "event_type",
        "run_id",
        "status",
        "duplicates",
        "execution",
        "processed_at",
    )
    list_filter = ("status", "event_type")
    search_fields = ("run_id", "dispatch_id", "error")
    raw_id_fields = ("execution",)
    date_hierarchy = "received_at"
