"""Operators' endpoints on the retry queue: read it, force a business's retry now."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.apis import OperatorApi
from access.authentication import actor_of
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from businesses.selectors import business_get_any
from retry.models import RetryEntry, RetryState
from retry.selectors import retry_entry_list
from retry.services import retry_force
from scheduler_project.api import (
    CONFLICT,
    ERRORS,
    PAGE_PARAMETERS,
    StrictInputSerializer,
    page_of,
    paginate,
    query_filters,
)


class RetryEntryOutputSerializer(serializers.ModelSerializer):
    team_id = serializers.CharField(source="business.team_id")
    platform = serializers.CharField(source="business.platform")
    last_execution_id = serializers.UUIDField(allow_null=True)
    schedule_id = serializers.IntegerField(
        source="batch_id",
        allow_null=True,
        help_text="The batch serving this business for this scrape type: its history shows "
        "the retry runs. Null until the first retry run of a forced entry starts.",
    )
    # Plain strings: `state` and `scrape_type` enums are named by the executions' fields.
    scrape_type = serializers.CharField(help_text="`reviews` or `overview`.")
    state = serializers.CharField(help_text="`pending`, `running`, `succeeded` or `dead`.")

    class Meta:
        model = RetryEntry
        fields = [
            "id",
            "business_id",
            "team_id",
            "platform",
            "scrape_type",
            "attempts",
            "state",
            "next_attempt_at",
            "last_error",
            "last_execution_id",
            "schedule_id",
            "created_at",
            "updated_at",
        ]


class RetryQueueApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=RetryState.choices, required=False)
        platform = serializers.ChoiceField(choices=PLATFORM_CHOICES, required=False)
        scrape_type = serializers.ChoiceField(choices=ScrapeType.choices, required=False)
        team_id = serializers.CharField(max_length=64, required=False)

        class Meta:
            ref_name = "RetryQueueFilter"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_of("RetryEntryPage", RetryEntryOutputSerializer(many=True)), **ERRORS},
        operation_id="admin_retry_queue",
        description="Retry entries, soonest attempt first (closed entries last).",
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        queryset = retry_entry_list(filters=filters)
        return paginate(request, queryset, RetryEntryOutputSerializer, self)


class BusinessRetryApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        class Meta:
            ref_name = "BusinessRetryInput"

    @extend_schema(
        request=InputSerializer,
        responses={202: RetryEntryOutputSerializer(many=True), **ERRORS, **CONFLICT},
        operation_id="admin_business_retry",
        description="Retry the business now, for each of its scrape types: the retry "
        "processor starts a single-business run on its next pass. 409 while a retry of it is "
        "running, or when the business is inactive.",
    )
    def post(self, request: Request, business_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        business = business_get_any(business_id=business_id)
        entries = retry_force(
            business=business,
            actor=actor_of(request),
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(
            RetryEntryOutputSerializer(entries, many=True).data, status=status.HTTP_202_ACCEPTED
        )
