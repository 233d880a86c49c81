"""The kill switch: `/api/v1/admin/dispatch/` (GET), `pause/`, `resume/`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from access.apis import OperatorApi
from access.authentication import actor_of
from scheduler_project.api import CONFLICT, ERRORS, StrictInputSerializer
from schedules.models import DispatchSwitch
from schedules.services.dispatch_switch import dispatch_pause, dispatch_resume, dispatch_switch_get


class DispatchSwitchOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = DispatchSwitch
        fields = ["paused", "reason", "changed_by", "changed_at"]
        ref_name = "DispatchSwitch"


class DispatchSwitchApi(OperatorApi):
    @extend_schema(
        responses={200: DispatchSwitchOutputSerializer, **ERRORS},
        operation_id="admin_dispatch_get",
        description="Whether dispatch and starts are paused (the kill switch), by whom, why.",
    )
    def get(self, request: Request) -> Response:
        return Response(DispatchSwitchOutputSerializer(dispatch_switch_get()).data)


class DispatchPauseApi(OperatorApi):
    class InputSerializer(StrictInputSerializer):
        reason = serializers.CharField(max_length=1000)

        class Meta:
            ref_name = "DispatchPauseInput"

    @extend_schema(
        request=InputSerializer,
        responses={200: DispatchSwitchOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_dispatch_pause",
        description="Stop all dispatch and starts at once (runs in flight finish and are "
        "ingested). A reason is required. 409 when already paused.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        switch = dispatch_pause(reason=serializer.validated_data["reason"], actor=actor_of(request))
        return Response(DispatchSwitchOutputSerializer(switch).data)


class DispatchResumeApi(OperatorApi):
    @extend_schema(
        request=None,
        responses={200: DispatchSwitchOutputSerializer, **ERRORS, **CONFLICT},
        operation_id="admin_dispatch_resume",
        description="Dispatch and start again; held-back starts go out at once, missed slots "
        "follow each batch's misfire policy. 409 when not paused.",
    )
    def post(self, request: Request) -> Response:
        return Response(
            DispatchSwitchOutputSerializer(dispatch_resume(actor=actor_of(request))).data
        )
