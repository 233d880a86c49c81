"""Operators' endpoints on schedules (batches): read, trigger, pause, resume, rebalance."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.apis import OperatorApi
from access.authentication import actor_of
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from scheduler_project.api import (
    CONFLICT,
    ERRORS,
    PAGE_PARAMETERS,
    StrictInputSerializer,
    page_of,
    paginate,
    query_filters,
)
from scheduler_project.dbclock import db_now
from scheduler_project.json_pages import PageWindow, serves_json_pages
from schedules.apis.serializers import (
    SCHEDULE_ROWS,
    ExecutionOutputSerializer,
    GroupSweepOutputSerializer,
    ScheduleBusinessOutputSerializer,
    ScheduleDetailOutputSerializer,
    ScheduleOutputSerializer,
)
from schedules.json_selectors import batch_page_json
from schedules.models import BatchStatus
from schedules.selectors import (
    batch_detail_get,
    batch_get,
    batch_list,
    batch_mappings,
    execution_list,
)
from schedules.services.batches import batch_pause, batch_resume, batch_trigger
from schedules.services.operations import GroupMoves, groups_consolidate, groups_rebalance


class ScheduleListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        platform = serializers.ChoiceField(choices=PLATFORM_CHOICES, required=False)
        scrape_type = serializers.ChoiceField(choices=ScrapeType.choices, required=False)
        interval = serializers.IntegerField(
            min_value=1, required=False, help_text="The group's interval in minutes."
        )
        status = serializers.ChoiceField(choices=BatchStatus.choices, required=False)

        class Meta:
            ref_name = "ScheduleFilter"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_of("SchedulePage", ScheduleOutputSerializer(many=True)), **ERRORS},
        operation_id="admin_schedules_list",
        description="Every batch of every global schedule, with utilisation and next run.",
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        if serves_json_pages():
            window = PageWindow.of(request)
            return batch_page_json(filters=filters, window=window).response(request, window)
        return SCHEDULE_ROWS.page(request, batch_list(filters=filters), self)


class ScheduleDetailApi(OperatorApi):
    @extend_schema(
        responses={200: ScheduleDetailOutputSerializer, **ERRORS},
        operation_id="admin_schedule_get",
        description="One batch with its next 10 run times and its newest executions.",
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = batch_detail_get(batch_id=batch_id, now=db_now())
        return Response(ScheduleDetailOutputSerializer(batch).data)


class ScheduleBusinessesApi(OperatorApi):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_of("ScheduleBusinessPage", ScheduleBusinessOutputSerializer(many=True)),
            **ERRORS,
        },
        operation_id="admin_schedule_businesses",
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = batch_get(batch_id=batch_id)
        return paginate(
            request, batch_mappings(batch=batch), ScheduleBusinessOutputSerializer, self
        )


class ScheduleExecutionsApi(OperatorApi):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_of("ScheduleExecutionPage", ExecutionOutputSerializer(many=True)),
            **ERRORS,
        },
        operation_id="admin_schedule_executions",
        description="The batch's executions, newest first.",
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = batch_get(batch_id=batch_id)
        queryset = execution_list(filters={"schedule_id": batch.id})
        return paginate(request, queryset, ExecutionOutputSerializer, self)


class ScheduleTriggerApi(OperatorApi):
    @extend_schema(
        request=None,
        responses={202: ExecutionOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_schedule_trigger",
        description="Run the batch now, outside its schedule (its next slot still runs). "
        "409 for a retired batch, or a busy one whose overlap policy is `skip`.",
    )
    def post(self, request: Request, batch_id: int) -> Response:
        execution = batch_trigger(batch_id=batch_id, actor=actor_of(request))
        return Response(ExecutionOutputSerializer(execution).data, status=status.HTTP_202_ACCEPTED)


class SchedulePauseApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        until = serializers.DateTimeField(
            required=False, help_text="ISO 8601; the batch resumes by itself then."
        )

        class Meta:
            ref_name = "SchedulePauseInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: ScheduleOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_schedule_pause",
        description="Stop dispatching the batch, until `until` when given (400 unless in the "
        "future). 409 unless it is active.",
    )
    def post(self, request: Request, batch_id: int) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        batch_pause(
            batch_id=batch_id,
            reason=serializer.validated_data.get("reason", ""),
            until=serializer.validated_data.get("until"),
            actor=actor_of(request),
        )
        return Response(ScheduleOutputSerializer(batch_get(batch_id=batch_id)).data)


class ScheduleResumeApi(OperatorApi):
    @extend_schema(
        request=None,
        responses={200: ScheduleOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_schedule_resume",
        description="Dispatch the batch again from its next slot (time paused is not a "
        "misfire). 409 unless it is paused.",
    )
    def post(self, request: Request, batch_id: int) -> Response:
        batch_resume(batch_id=batch_id, actor=actor_of(request))
        return Response(ScheduleOutputSerializer(batch_get(batch_id=batch_id)).data)


class GroupSweepInputSerializer(StrictInputSerializer):
    platform = serializers.ChoiceField(choices=PLATFORM_CHOICES, required=False)
    # Values only: the labelled choice set is the product API's `scrape_types` enum.
    scrape_type = serializers.ChoiceField(choices=ScrapeType.values, required=False)
    interval = serializers.IntegerField(
        min_value=1, required=False, help_text="The group's interval in minutes."
    )
    reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

    class Meta:
        ref_name = "ScheduleGroupSweepInput"


def _sweep_response(results: list[GroupMoves]) -> Response:
    data = {
        "groups": results,
        "moved": sum(r.moved for r in results),
        "retired": sum(r.retired for r in results),
    }
    return Response(GroupSweepOutputSerializer(data).data)


class ScheduleRebalanceApi(OperatorApi):
    InputSerializer = GroupSweepInputSerializer

    @extend_schema(
        request=GroupSweepInputSerializer,
        responses={200: GroupSweepOutputSerializer, **ERRORS},
        operation_id="admin_schedules_rebalance",
        description="Even out the active batches of every matching group (no filter: all "
        "groups). Each group that changed gets a `group.rebalance` audit event.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _sweep_response(
            groups_rebalance(**serializer.validated_data, actor=actor_of(request))
        )


class ScheduleConsolidateApi(OperatorApi):
    InputSerializer = GroupSweepInputSerializer

    @extend_schema(
        request=GroupSweepInputSerializer,
        responses={200: GroupSweepOutputSerializer, **ERRORS},
        operation_id="admin_schedules_consolidate",
        description="Merge under-used batches of every matching group and retire the emptied "
        "ones. Each group that changed gets a `group.consolidate` audit event.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return _sweep_response(
            groups_consolidate(**serializer.validated_data, actor=actor_of(request))
        )
