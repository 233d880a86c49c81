"""Operators' health and metrics (JSON): `GET /api/v1/admin/health/`, `GET /api/v1/admin/metrics/`.

Both use the default permission (an admin key or a staff login)."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from monitoring.health import STATUSES, health_report
from monitoring.metrics import metrics_snapshot
from scheduler_project.api import ERRORS

_AUTH_ERRORS = {code: ERRORS[code] for code in (401, 403)}


@extend_schema_field(OpenApiTypes.NUMBER)
class NumberField(serializers.Field):
    """An int or a float, written as is (counts stay integers); may be null."""

    def to_representation(self, value: float) -> float:
        return value


class HealthStatusField(serializers.CharField):
    """`healthy`, `warning` or `critical`."""


class HealthStatusFieldScheme(OpenApiSerializerFieldExtension):
    """One named `HealthStatus` component for both uses: the API's other `status` enums
    cannot collide with it (no ENUM_NAME_OVERRIDES needed)."""

    target_class = HealthStatusField

    def map_serializer_field(self, auto_schema: AutoSchema, direction: str) -> dict:
        component = ResolvedComponent(
            name="HealthStatus",
            type=ResolvedComponent.SCHEMA,
            object="HealthStatus",
            schema={"type": "string", "enum": list(STATUSES)},
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class HealthCheckOutputSerializer(serializers.Serializer):
    name = serializers.CharField()
    status = HealthStatusField()
    value = NumberField(allow_null=True, help_text="null when there is nothing to measure.")
    threshold = NumberField(
        allow_null=True, help_text="The threshold crossed, or the next one that would be."
    )
    reason = serializers.CharField()

    class Meta:
        ref_name = "HealthCheck"


class HealthOutputSerializer(serializers.Serializer):
    status = HealthStatusField(help_text="The worst of the checks.")
    checks = HealthCheckOutputSerializer(many=True)
    generated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Health"


class HealthApi(APIView):
    @extend_schema(
        responses={200: HealthOutputSerializer, **_AUTH_ERRORS},
        operation_id="admin_health",
        description="`healthy`, `warning` or `critical` from batch utilisation, the retry "
        "queue, the dispatcher heartbeat, executions stuck past their lease and failed "
        "webhook events; thresholds are settings. Answers 200 whatever the status: the body "
        "says it.",
    )
    def get(self, request: Request) -> Response:
        status, checks = health_report()
        body = {"status": status, "checks": checks, "generated_at": timezone.now()}
        return Response(HealthOutputSerializer(body).data)


class CountsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    last_24h = serializers.IntegerField()

    class Meta:
        ref_name = "MetricsCounts"


class StateTriggerCountsSerializer(CountsSerializer):
    state = serializers.CharField()
    trigger = serializers.CharField()

    class Meta:
        ref_name = "MetricsStateTriggerCounts"


class ExecutionMetricsSerializer(serializers.Serializer):
    total = serializers.IntegerField()
    last_24h = serializers.IntegerField()
    by_state = serializers.DictField(child=CountsSerializer())
    by_trigger = serializers.DictField(child=CountsSerializer())
    by_state_and_trigger = StateTriggerCountsSerializer(many=True)

    class Meta:
        ref_name = "MetricsExecutions"


class PlatformUtilisationSerializer(serializers.Serializer):
    active_batches = serializers.IntegerField()
    average_percent = serializers.FloatField(allow_null=True)
    max_percent = serializers.FloatField(allow_null=True)

    class Meta:
        ref_name = "MetricsPlatformUtilisation"


class UtilisationSerializer(serializers.Serializer):
    average_percent = serializers.FloatField(
        allow_null=True, help_text="Mean business_count / capacity of active batches."
    )
    max_percent = serializers.FloatField(allow_null=True, help_text="The fullest active batch.")
    by_platform = serializers.DictField(child=PlatformUtilisationSerializer())

    class Meta:
        ref_name = "MetricsUtilisation"


class BatchMetricsSerializer(serializers.Serializer):
    by_status = serializers.DictField(child=serializers.IntegerField())

    class Meta:
        ref_name = "MetricsBatches"


class WebhookMetricsSerializer(serializers.Serializer):
    by_status = serializers.DictField(child=serializers.IntegerField())
    duplicates = serializers.IntegerField(help_text="Further deliveries of stored events.")

    class Meta:
        ref_name = "MetricsWebhookEvents"


class ApifyMetricsSerializer(serializers.Serializer):
    cost_today_usd = serializers.FloatField(
        help_text="usage_usd of the executions finished today (UTC)."
    )
    errors = serializers.IntegerField(help_text="Failed executions whose error mentions Apify.")

    class Meta:
        ref_name = "MetricsApify"


class RepairMetricsSerializer(serializers.Serializer):
    next_run_at_total = serializers.IntegerField(
        help_text="Batches whose out-of-range next_run_at the reconcile tick moved back."
    )
    next_run_at_last_24h = serializers.IntegerField()

    class Meta:
        ref_name = "MetricsRepairs"


class MetricsOutputSerializer(serializers.Serializer):
    executions = ExecutionMetricsSerializer()
    retry_queue = serializers.DictField(
        child=serializers.IntegerField(), help_text="Retry entries by state."
    )
    batches = BatchMetricsSerializer()
    utilisation = UtilisationSerializer()
    webhook_events = WebhookMetricsSerializer()
    apify = ApifyMetricsSerializer()
    dispatch_lag_seconds = serializers.FloatField(
        help_text="now - next_run_at of the oldest due active batch; 0 when none is due."
    )
    repairs = RepairMetricsSerializer()
    generated_at = serializers.DateTimeField()

    class Meta:
        ref_name = "Metrics"


class MetricsApi(APIView):
    @extend_schema(
        responses={200: MetricsOutputSerializer, **_AUTH_ERRORS},
        operation_id="admin_metrics",
        description="Counters for dashboards: executions (all time and last 24 h), retry "
        "queue, batches, utilisation, webhook events, Apify cost today and dispatch lag. "
        "The same numbers are served to Prometheus at `/metrics`.",
    )
    def get(self, request: Request) -> Response:
        body = {**metrics_snapshot(), "generated_at": timezone.now()}
        return Response(MetricsOutputSerializer(body).data)
