from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.admin_mixins import ReadOnlyAdmin, admin_actor
from scheduler_project.errors import ConflictError
from schedules.models import (
    ApifyAccount,
    Batch,
    CapacitySample,
    DispatchSwitch,
    Execution,
    Heartbeat,
    Mapping,
    ScheduleGroup,
    UnmatchedItem,
)
from schedules.services.assignment import group_consolidate, group_rebalance
from schedules.services.batches import (
    batch_pause,
    batch_policies_set,
    batch_resume,
    batch_trigger,
)


def _run_each(request: HttpRequest, queryset: QuerySet, action, verb: str) -> None:
    done = 0
    for obj in queryset:
        try:
            action(obj)
            done += 1
        except ConflictError as exc:
            messages.warning(request, f"{obj}: {exc}")
    messages.success(request, f"{verb} {done} of {queryset.count()}.")


@admin.register(ScheduleGroup)
class ScheduleGroupAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "platform",
        "scrape_type",
        "interval_minutes",
        "cron_expression",
        "timezone",
        "is_standard",
    )
    list_filter = ("platform", "scrape_type", "interval_minutes", "is_standard")
    search_fields = ("=id", "cron_expression")
    actions = ("rebalance", "consolidate")

    @admin.action(description="Rebalance the batches of the selected groups")
    def rebalance(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run_each(request, queryset, lambda g: group_rebalance(group=g), "Rebalanced")

    @admin.action(description="Consolidate the batches of the selected groups")
    def consolidate(self, request: HttpRequest, queryset: QuerySet) -> None:
        _run_each(request, queryset, lambda g: group_consolidate(group=g), "Consolidated")


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "group",
        "batch_index",
        "business_count",
        "capacity",
        "status",
        "next_run_at",
        "last_run_at",
        "missed_runs_count",
    )
    list_filter = (
        "status",
        "group__platform",
        "group__scrape_type",
        "group__interval_minutes",
        "misfire_policy",
        "overlap_policy",
    )
    search_fields = ("=id", "paused_reason")
    list_select_related = ("group",)
    # Only the policies are edited here (through batch_policies_set, audited); status moves
    # through the actions below, counts and slots through the services that own them.
    fields = (
        "group",
        "batch_index",
        "capacity",
        "business_count",
        "status",
        "paused_reason",
        "paused_until",
        "next_run_at",
        "last_run_at",
        "stagger_offset_seconds",
        "misfire_policy",
        "overlap_policy",
        "missed_runs_count",
        "created_at",
        "updated_at",
    )
    readonly_fields = tuple(f for f in fields if f not in ("misfire_policy", "overlap_policy"))
    actions = ("pause", "resume", "trigger")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Batch, form: object, change: bool) -> None:
        batch_policies_set(
            batch_id=obj.id,
            misfire_policy=obj.misfire_policy,
            overlap_policy=obj.overlap_policy,
            actor=admin_actor(request),
        )

    @admin.action(description="Pause the selected batches")
    def pause(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = admin_actor(request)
        reason = "paused from the Django admin"
        _run_each(
            request,
            queryset,
            lambda b: batch_pause(batch_id=b.id, reason=reason, actor=actor),
            "Paused",
        )

    @admin.action(description="Resume the selected batches")
    def resume(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = admin_actor(request)
        _run_each(request, queryset, lambda b: batch_resume(batch_id=b.id, actor=actor), "Resumed")

    @admin.action(description="Trigger the selected batches now")
    def trigger(self, request: HttpRequest, queryset: QuerySet) -> None:
        actor = admin_actor(request)
        _run_each(
            request, queryset, lambda b: batch_trigger(batch_id=b.id, actor=actor), "Triggered"
        )


@admin.register(Mapping)
class MappingAdmin(ReadOnlyAdmin):
    list_display = ("id", "business", "scrape_type", "batch", "team", "platform_key")
    list_filter = ("scrape_type", "batch__group__platform")
    search_fields = ("=business__id", "team__team_id", "platform_key")
    list_select_related = ("business", "batch__group", "team")
    raw_id_fields = ("business", "batch", "team")


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "batch",
        "trigger",
        "state",
        "scheduled_for",
        "started_at",
        "duration_ms",
        "business_count",
        "items_count",
        "failed_count",
        "apify_run_id",
    )
    list_filter = ("state", "trigger", "platform", "scrape_type")
    search_fields = ("=id", "apify_run_id", "error")
    list_select_related = ("batch__group",)
    raw_id_fields = ("batch",)
    date_hierarchy = "created_at"


@admin.register(Heartbeat)
class HeartbeatAdmin(ReadOnlyAdmin):
    list_display = ("name", "kind", "last_seen_at")
    list_filter = ("kind",)
    search_fields = ("name",)


@admin.register(ApifyAccount)
class ApifyAccountAdmin(ReadOnlyAdmin):
    """Read-only: admission writes it (limits read from Apify, refusals); operators read it
    here, on the dashboard and at /api/v1/admin/capacity/."""

    list_display = (
        "__str__",
        "memory_limit_mbytes",
        "runs_limit",
        "external_runs",
        "monthly_usage_usd",
        "monthly_limit_usd",
        "refreshed_at",
        "refusals",
        "hold_until",
    )


@admin.register(CapacitySample)
class CapacitySampleAdmin(ReadOnlyAdmin):
    list_display = (
        "at",
        "runs_in_use",
        "runs_limit",
        "memory_mbytes_in_use",
        "memory_mbytes_limit",
        "waiting_executions",
        "oldest_waiting_seconds",
    )
    date_hierarchy = "at"


@admin.register(UnmatchedItem)
class UnmatchedItemAdmin(ReadOnlyAdmin):
    list_display = ("id", "execution", "reason", "key", "created_at")
    list_filter = ("reason",)
    search_fields = ("key", "=execution__id")
    raw_id_fields = ("execution",)


@admin.register(DispatchSwitch)
class DispatchSwitchAdmin(ReadOnlyAdmin):
    """Read-only here: the switch is thrown through the operator API or the dashboard, which
    audit it and publish the held-back starts on resume."""

    list_display = ("__str__", "paused", "reason", "changed_by", "changed_at")
