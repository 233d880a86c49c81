"""Output shapes of schedules (batches), their businesses and executions (SPEC §4 Shapes)."""

from __future__ import annotations

from rest_framework import serializers

from scheduler_project.rows import RowShape
from schedules.models import Batch, Execution, Mapping

# Plain strings in outputs: drf-spectacular names an enum after its field, so the same choice
# set under two field names (the product API's `scrape_types`) or two choice sets under one
# name (`status` of batches and of health) would collide.
SCRAPE_TYPE_HELP = "`reviews` or `overview`."
BATCH_STATUS_HELP = "`active`, `paused` or `retired`."


class ExecutionOutputSerializer(serializers.ModelSerializer):
    schedule_id = serializers.IntegerField(source="batch_id", allow_null=True)
    scrape_type = serializers.CharField(help_text=SCRAPE_TYPE_HELP)
    # A number, not DRF's decimal string: dashboards sum it.
    usage_usd = serializers.FloatField(allow_null=True)
    wait_reason = serializers.CharField(
        help_text="Why a pending execution has not started: e.g. waiting for Apify capacity."
    )

    class Meta:
        model = Execution
        fields = [
            "id",
            "schedule_id",
            "platform",
            "scrape_type",
            "trigger",
            "state",
            "scheduled_for",
            "missed_slots",
            "created_at",
            "started_at",
            "finished_at",
            "duration_ms",
            "apify_run_id",
            "business_count",
            "items_count",
            "attributed_count",
            "unmatched_count",
            "failed_count",
            "usage_usd",
            "compute_units",
            "error",
            "wait_reason",
            "waiting_since",
        ]


class ExecutionOutcomeSerializer(serializers.Serializer):
    business_id = serializers.IntegerField()
    team_id = serializers.CharField(allow_null=True)
    external_id = serializers.CharField()
    exists = serializers.BooleanField(help_text="False when the business was deleted since.")
    name = serializers.CharField(allow_null=True)
    last_status = serializers.CharField(
        allow_null=True, help_text="`succeeded` or `failed`; null before its first scrape."
    )
    last_error = serializers.CharField(allow_blank=True)
    scrape_type_status = serializers.CharField(
        allow_null=True,
        help_text="The last outcome of THIS execution's scrape type for the business "
        "(`last_status` is the worst of its types).",
    )
    scrape_type_error = serializers.CharField(allow_blank=True)
    reviews_stored = serializers.IntegerField(help_text="Review items stored by THIS execution.")


class ExecutionDetailOutputSerializer(ExecutionOutputSerializer):
    businesses = ExecutionOutcomeSerializer(many=True, source="outcomes")

    class Meta(ExecutionOutputSerializer.Meta):
        fields = [
            *ExecutionOutputSerializer.Meta.fields,
            "actor_id",
            "apify_dataset_id",
            "requested_memory_mbytes",
            "start_attempts",
            "lease_expires_at",
            "run_abort_pending",
            "businesses",
        ]


class ScheduleOutputSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="group.platform")
    scrape_type = serializers.CharField(source="group.scrape_type", help_text=SCRAPE_TYPE_HELP)
    interval_minutes = serializers.IntegerField(source="group.interval_minutes")
    status = serializers.CharField(help_text=BATCH_STATUS_HELP)
    cron_expression = serializers.CharField(source="group.cron_expression")
    group_id = serializers.IntegerField()
    utilisation = serializers.SerializerMethodField(help_text="business_count / capacity, 0..1.")

    class Meta:
        model = Batch
        fields = [
            "id",
            "group_id",
            "platform",
            "scrape_type",
            "interval_minutes",
            "cron_expression",
            "batch_index",
            "capacity",
            "business_count",
            "utilisation",
            "status",
            "paused_reason",
            "paused_until",
            "next_run_at",
            "last_run_at",
            "stagger_offset_seconds",
            "misfire_policy",
            "overlap_policy",
            "missed_runs_count",
        ]

    def get_utilisation(self, batch: Batch) -> float:
        return batch_utilisation(batch.business_count, batch.capacity)


def batch_utilisation(business_count: int, capacity: int) -> float:
    return round(business_count / capacity, 4) if capacity else 0.0


# The schedule list's rows without a serializer per batch (scheduler_project/rows.py).
SCHEDULE_ROWS = RowShape(
    ScheduleOutputSerializer,
    computed={"utilisation": lambda row: batch_utilisation(row["business_count"], row["capacity"])},
)


class ScheduleDetailOutputSerializer(ScheduleOutputSerializer):
    next_runs = serializers.ListField(
        child=serializers.DateTimeField(), help_text="The next 10 run times (ISO 8601)."
    )
    last_executions = ExecutionOutputSerializer(many=True, help_text="The newest executions.")
    execution_counts = serializers.DictField(
        child=serializers.IntegerField(), help_text="state → executions of this batch."
    )

    class Meta(ScheduleOutputSerializer.Meta):
        fields = [
            *ScheduleOutputSerializer.Meta.fields,
            "next_runs",
            "last_executions",
            "execution_counts",
        ]


class ScheduleBusinessOutputSerializer(serializers.ModelSerializer):
    """A business of a batch (read through its mapping)."""

    id = serializers.IntegerField(source="business_id")
    team_id = serializers.CharField()
    platform = serializers.CharField(source="business.platform")
    external_id = serializers.CharField(source="business.external_id")
    name = serializers.CharField(source="business.name")
    active = serializers.BooleanField(source="business.active")
    scrape_type = serializers.CharField(help_text=SCRAPE_TYPE_HELP)
    last_scraped_at = serializers.DateTimeField(source="business.last_scraped_at")
    last_status = serializers.CharField(
        source="business.last_status",
        allow_null=True,
        help_text="The business's worst status over its scrape types.",
    )
    last_error = serializers.CharField(source="business.last_error")
    scrape_type_status = serializers.CharField(
        source="type_status",
        allow_null=True,
        help_text="The last outcome of THIS batch's scrape type; null before its first scrape.",
    )
    scrape_type_scraped_at = serializers.DateTimeField(source="type_scraped_at", allow_null=True)
    scrape_type_error = serializers.CharField(source="type_error", allow_null=True)
    mapped_at = serializers.DateTimeField(source="created_at")

    class Meta:
        model = Mapping
        fields = [
            "id",
            "team_id",
            "platform",
            "external_id",
            "name",
            "active",
            "scrape_type",
            "platform_key",
            "last_scraped_at",
            "last_status",
            "last_error",
            "scrape_type_status",
            "scrape_type_scraped_at",
            "scrape_type_error",
            "mapped_at",
        ]


class GroupMovesOutputSerializer(serializers.Serializer):
    group_id = serializers.IntegerField(source="group.id")
    platform = serializers.CharField(source="group.platform")
    scrape_type = serializers.CharField(source="group.scrape_type")
    interval_minutes = serializers.IntegerField(source="group.interval_minutes")
    moved = serializers.IntegerField(help_text="Mappings moved to another batch.")
    retired = serializers.IntegerField(help_text="Batches retired (consolidate only).")
    before = serializers.DictField(
        child=serializers.IntegerField(), help_text="batch_index → business_count, active batches."
    )
    after = serializers.DictField(child=serializers.IntegerField())


class GroupSweepOutputSerializer(serializers.Serializer):
    groups = GroupMovesOutputSerializer(many=True)
    moved = serializers.IntegerField()
    retired = serializers.IntegerField()
