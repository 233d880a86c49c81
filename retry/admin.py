from django.contrib import admin

from retry.models import RetryEntry


@admin.register(RetryEntry)
class RetryEntryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "business",
        "scrape_type",
        "state",
        "attempts",
        "next_attempt_at",
        "updated_at",
    )
    list_filter = ("state", "scrape_type", "business__platform")
    search_fields = ("=business__id", "business__team__team_id", "last_error")
    list_select_related = ("business",)
    raw_id_fields = ("business", "last_execution")
