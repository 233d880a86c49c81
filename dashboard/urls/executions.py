"""Executions and the audit log (URL names in the `dashboard` namespace)."""

from django.urls import path

from dashboard.views.audit import AuditLogView
from dashboard.views.executions import (
    ExecutionBulkView,
    ExecutionCancelView,
    ExecutionDetailView,
    ExecutionListView,
    ExecutionRetryView,
)

urlpatterns = [
    path("executions/", ExecutionListView.as_view(), name="executions"),
    path("executions/bulk/", ExecutionBulkView.as_view(), name="executions-bulk"),
    path("executions/<uuid:execution_id>/", ExecutionDetailView.as_view(), name="execution"),
    path(
        "executions/<uuid:execution_id>/cancel/",
        ExecutionCancelView.as_view(),
        name="execution-cancel",
    ),
    path(
        "executions/<uuid:execution_id>/retry/",
        ExecutionRetryView.as_view(),
        name="execution-retry",
    ),
    path("audit-log/", AuditLogView.as_view(), name="audit-log"),
]
