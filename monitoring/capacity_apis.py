"""`GET /api/v1/admin/capacity/`: the Apify account as admission sees it (SPEC §7).

The default permission (an admin key or a staff login)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_project.api import ERRORS
from schedules.capacity_selectors import capacity_overview


class CapacityOutputSerializer(serializers.Serializer):
    memory_mbytes_limit = serializers.IntegerField(
        allow_null=True,
        help_text="What our runs may hold: the account's limit minus runs started elsewhere, "
        "lowered by APIFY_MAX_MEMORY_MBYTES; null while no limit is known.",
    )
    memory_mbytes_in_use = serializers.IntegerField(
        help_text="Memory requested by our starting and running executions."
    )
    runs_limit = serializers.IntegerField(allow_null=True)
    runs_in_use = serializers.IntegerField()
    waiting_executions = serializers.IntegerField(
        help_text="Pending executions waiting for capacity."
    )
    oldest_waiting_seconds = serializers.FloatField()
    monthly_usage_usd = serializers.DecimalField(
        max_digits=18, decimal_places=4, allow_null=True, coerce_to_string=False
    )
    monthly_limit_usd = serializers.DecimalField(
        max_digits=18, decimal_places=4, allow_null=True, coerce_to_string=False
    )
    demand_run_hours_per_day = serializers.FloatField(
        help_text="Runs per day of the active batches × their recent average run time."
    )
    capacity_run_hours_per_day = serializers.FloatField(
        allow_null=True, help_text="The run slots the budget allows × 24 h."
    )
    stop_reason = serializers.CharField(help_text="Set while no start is admitted at all.")
    limits_refreshed_at = serializers.DateTimeField(allow_null=True)
    limits_age_seconds = serializers.FloatField(allow_null=True)
    refresh_error = serializers.CharField(help_text="Why the last read of the limits failed.")
    external_memory_mbytes = serializers.IntegerField(
        help_text="Memory held by runs this service did not start."
    )
    external_runs = serializers.IntegerField()
    held_until = serializers.DateTimeField(
        allow_null=True, help_text="After a 402 or 429, nothing is admitted before this."
    )
    refusals = serializers.IntegerField(help_text="402 answers to our starts, all time.")
    rate_limited = serializers.IntegerField(help_text="429 answers left after retries.")
    last_refusal = serializers.CharField()

    class Meta:
        ref_name = "Capacity"


class CapacityApi(APIView):
    @extend_schema(
        responses={200: CapacityOutputSerializer, **{c: ERRORS[c] for c in (401, 403)}},
        operation_id="admin_capacity",
        description="The Apify account's limits (refreshed at least every minute, with their "
        "age), what our runs hold of them, the executions waiting for room, the monthly "
        "usage, and the schedules' demand against the account's capacity.",
    )
    def get(self, request: Request) -> Response:
        return Response(CapacityOutputSerializer(capacity_overview().as_dict()).data)
