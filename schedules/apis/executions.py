"""Operators' endpoints on executions: history, detail with per-business outcome, cancel,
re-run."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.apis import OperatorApi
from access.authentication import actor_of
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from retry.apis import RetryEntryOutputSerializer
from scheduler_project.api import (
    CONFLICT,
    ERRORS,
    PAGE_PARAMETERS,
    StrictInputSerializer,
    page_of,
    paginate,
    query_filters,
)
from schedules.apis.serializers import ExecutionDetailOutputSerializer, ExecutionOutputSerializer
from schedules.models import Trigger
from schedules.selectors import execution_detail_get, execution_list
from schedules.services.executions import execution_cancel
from schedules.services.operations import execution_rerun
from schedules.states import ExecutionState


class ExecutionListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=ExecutionState.choices, required=False)
        trigger = serializers.ChoiceField(choices=Trigger.choices, required=False)
        platform = serializers.ChoiceField(choices=PLATFORM_CHOICES, required=False)
        scrape_type = serializers.ChoiceField(choices=ScrapeType.choices, required=False)
        schedule_id = serializers.IntegerField(min_value=1, required=False)

        class Meta:
            ref_name = "ExecutionFilter"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_of("ExecutionPage", ExecutionOutputSerializer(many=True)), **ERRORS},
        operation_id="admin_executions_list",
        description="Executions of every batch and retry, newest first.",
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        queryset = execution_list(filters=filters)
        return paginate(request, queryset, ExecutionOutputSerializer, self)


class ExecutionDetailApi(OperatorApi):
    @extend_schema(
        responses={200: ExecutionDetailOutputSerializer, **ERRORS},
        operation_id="admin_execution_get",
        description="One execution with the outcome of each business of its snapshot.",
    )
    def get(self, request: Request, execution_id: UUID) -> Response:
        execution = execution_detail_get(execution_id=execution_id)
        return Response(ExecutionDetailOutputSerializer(execution).data)


class ExecutionCancelApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        class Meta:
            ref_name = "ExecutionCancelInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: ExecutionOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_execution_cancel",
        description="Cancel a pending, starting or running execution (its Apify run is "
        "aborted by reconciliation). 409 once it has finished.",
    )
    def post(self, request: Request, execution_id: UUID) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        execution = execution_cancel(
            execution_id=execution_id,
            actor=actor_of(request),
            reason=serializer.validated_data.get("reason", ""),
        )
        return Response(ExecutionOutputSerializer(execution).data)


class ExecutionRetryApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        class Meta:
            ref_name = "ExecutionRetryInput"

    @extend_schema(
        request=InputSerializer,
        responses={
            202: inline_serializer(
                "ExecutionRerun",
                {
                    "execution": ExecutionOutputSerializer(
                        allow_null=True, help_text="The new batch execution (batch re-runs)."
                    ),
                    "retry_entries": RetryEntryOutputSerializer(
                        many=True, help_text="The entries brought forward (retry re-runs)."
                    ),
                },
            ),
            **ERRORS,
            **CONFLICT,
        },
        operation_id="admin_execution_retry",
        description="Run a finished execution's work again: a batch execution triggers its "
        "batch now; a retry execution forces a retry of its business. 409 while it is still "
        "pending, starting or running (or its batch is retired or busy).",
    )
    def post(self, request: Request, execution_id: UUID) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        rerun = execution_rerun(
            execution_id=execution_id,
            actor=actor_of(request),
            reason=serializer.validated_data.get("reason", ""),
        )
        data = {
            "execution": ExecutionOutputSerializer(rerun.execution).data
            if rerun.execution
            else None,
            "retry_entries": RetryEntryOutputSerializer(rerun.retry_entries, many=True).data,
        }
        return Response(data, status=status.HTTP_202_ACCEPTED)
