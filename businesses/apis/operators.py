"""Operators' endpoints on a team: its schedules and its custom intervals."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from access.apis import OperatorApi
from access.authentication import actor_of
from businesses.models import CustomInterval, Team
from businesses.platforms import PLATFORM_CHOICES
from businesses.selectors import team_get
from businesses.services import custom_interval_remove, custom_interval_set
from scheduler_project.api import ERRORS, StrictInputSerializer, query_filters
from schedules.models import Mapping
from schedules.selectors import team_schedules_get


class TeamAssignmentOutputSerializer(serializers.ModelSerializer):
    """One (business × scrape type) of a team and the batch serving it."""

    business_id = serializers.IntegerField()
    business_name = serializers.CharField(source="business.name")
    platform = serializers.CharField(source="business.platform")
    external_id = serializers.CharField(source="business.external_id")
    active = serializers.BooleanField(source="business.active")
    scrape_type = serializers.CharField(help_text="`reviews` or `overview`.")
    schedule_id = serializers.IntegerField(source="batch_id")
    batch_index = serializers.IntegerField(source="batch.batch_index")
    interval_minutes = serializers.IntegerField(source="batch.group.interval_minutes")
    schedule_status = serializers.CharField(source="batch.status")
    next_run_at = serializers.DateTimeField(source="batch.next_run_at")

    class Meta:
        model = Mapping
        fields = [
            "business_id",
            "business_name",
            "platform",
            "external_id",
            "active",
            "scrape_type",
            "schedule_id",
            "batch_index",
            "interval_minutes",
            "schedule_status",
            "next_run_at",
        ]


class CustomIntervalOutputSerializer(serializers.ModelSerializer):
    platform = serializers.SerializerMethodField(help_text="null: every platform of the team.")

    class Meta:
        model = CustomInterval
        fields = [
            "platform",
            "interval_minutes",
            "expires_at",
            "reason",
            "created_by",
            "created_at",
        ]

    def get_platform(self, custom: CustomInterval) -> str | None:
        return custom.platform or None


class TeamSchedulesOutputSerializer(serializers.ModelSerializer):
    effective_intervals = serializers.DictField(
        child=serializers.IntegerField(), help_text="platform → interval in minutes, now."
    )
    custom_intervals = CustomIntervalOutputSerializer(many=True, source="custom_interval_rows")
    assignments = TeamAssignmentOutputSerializer(many=True)

    class Meta:
        model = Team
        fields = ["team_id", "tier", "effective_intervals", "custom_intervals", "assignments"]


class TeamSchedulesApi(OperatorApi):
    @extend_schema(
        responses={200: TeamSchedulesOutputSerializer, **ERRORS},
        operation_id="admin_team_schedules",
        description="Where a team's businesses are scheduled (one row per business × scrape "
        "type), its effective intervals and its custom intervals.",
    )
    def get(self, request: Request, team_id: str) -> Response:
        return Response(TeamSchedulesOutputSerializer(team_schedules_get(team_id=team_id)).data)


class TeamCustomIntervalApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        interval_minutes = serializers.IntegerField(help_text="15 minutes to 30 days.")
        platform = serializers.ChoiceField(
            choices=PLATFORM_CHOICES,
            required=False,
            allow_null=True,
            help_text="Omit for every platform of the team.",
        )
        expires_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="Back to the tier default after this."
        )
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        class Meta:
            ref_name = "CustomIntervalInput"

    class FilterSerializer(serializers.Serializer):
        platform = serializers.ChoiceField(
            choices=PLATFORM_CHOICES,
            required=False,
            help_text="The platform's override; omit for the team-wide one.",
        )
        reason = serializers.CharField(required=False, allow_blank=True, max_length=1000)

        class Meta:
            ref_name = "CustomIntervalRemoveFilter"

    @extend_schema(
        request=InputSerializer,
        responses={200: TeamSchedulesOutputSerializer, **ERRORS},
        operation_id="admin_team_custom_interval_set",
        description="Set (or replace) a team's custom interval, for one platform or all; its "
        "businesses move to the matching schedules at once.",
    )
    def put(self, request: Request, team_id: str) -> Response:
        team = team_get(team_id=team_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        custom_interval_set(team=team, **serializer.validated_data, actor=actor_of(request))
        return Response(TeamSchedulesOutputSerializer(team_schedules_get(team_id=team_id)).data)

    @extend_schema(
        parameters=[FilterSerializer],
        request=None,
        responses={204: None, **ERRORS},
        operation_id="admin_team_custom_interval_remove",
        description="Remove a team's custom interval: it falls back to its tier default (or "
        "its team-wide override). 400 naming `platform` when there is none to remove.",
    )
    def delete(self, request: Request, team_id: str) -> Response:
        team = team_get(team_id=team_id)
        filters = query_filters(request, self.FilterSerializer)
        custom_interval_remove(team=team, **filters, actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)
