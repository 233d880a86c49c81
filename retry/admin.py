from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.admin_mixins import ReadOnlyAdmin, admin_actor
from businesses.models import Business
from retry.models import RetryEntry
from retry.services import retry_force
from scheduler_project.errors import ConflictError


@admin.register(RetryEntry)
class RetryEntryAdmin(ReadOnlyAdmin):
    """The queue is written by ingest and the retry runs; an operator brings entries forward
    with the action, through retry_force (audited), as the API does."""

    list_display = (
        "id",
        "business",
        "scrape_type",
        "batch",
        "state",
        "attempts",
        "next_attempt_at",
        "updated_at",
    )
    list_filter = ("state", "scrape_type", "business__platform")
    search_fields = ("=business__id", "business__team__team_id", "last_error")
    list_select_related = ("business", "batch")
    actions = ("retry_now",)

    @admin.action(description="Retry the selected businesses now")
    def retry_now(self, request: HttpRequest, queryset: QuerySet) -> None:
        done = 0
        for entry in queryset.select_related("business").order_by("id"):
            try:
                retry_force(
                    business=entry.business,
                    scrape_types=[entry.scrape_type],
                    actor=admin_actor(request),
                    reason="retried from the Django admin",
                )
                done += 1
            except ConflictError as exc:
                messages.warning(request, f"{entry}: {exc}")
            except Business.DoesNotExist:
                messages.warning(request, f"{entry}: the business was deleted meanwhile.")
        messages.success(request, f"Retried {done} of {queryset.count()}.")
