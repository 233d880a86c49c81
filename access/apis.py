"""The operator API's base class, and the audit log endpoint."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.authentication import IsOperator
from access.models import AuditEvent
from access.selectors import audit_event_list
from scheduler_project.api import ERRORS, PAGE_PARAMETERS, page_of, paginate, query_filters


class OperatorApi(APIView):
    """Base of the operators' API (/api/v1/admin/): an admin key or a staff session."""

    permission_classes = [IsOperator]


class AuditEventOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id",
            "created_at",
            "actor",
            "action",
            "object_type",
            "object_id",
            "before",
            "after",
            "reason",
        ]


class AuditLogApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        action = serializers.CharField(max_length=100, required=False)
        object_type = serializers.CharField(
            max_length=100, required=False, help_text="e.g. `schedules.batch`."
        )
        object_id = serializers.CharField(max_length=100, required=False)
        actor = serializers.CharField(max_length=150, required=False)

        class Meta:
            ref_name = "AuditLogFilter"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_of("AuditEventPage", AuditEventOutputSerializer(many=True)), **ERRORS},
        operation_id="admin_audit_log",
        description="Every operator write, newest first.",
    )
    def get(self, request: Request) -> Response:
        filters = query_filters(request, self.FilterSerializer)
        queryset = audit_event_list(filters=filters)
        return paginate(request, queryset, AuditEventOutputSerializer, self)
