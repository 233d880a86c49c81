"""The operators' API, included at /api/v1/admin/: every route in one table (admin key or
staff session; the views live with the app that owns each object)."""

from django.urls import path

from access import apis as access_apis
from businesses.apis import operators as team_apis
from monitoring import apis as monitoring_apis
from monitoring import capacity_apis
from notifications import apis as notification_apis
from retry import apis as retry_apis
from schedules.apis import batches, dispatch, executions

urlpatterns = [
    path("alerts/", notification_apis.AlertListApi.as_view(), name="admin-alerts"),
    path("schedules/", batches.ScheduleListApi.as_view(), name="admin-schedules"),
    path(
        "schedules/rebalance/",
        batches.ScheduleRebalanceApi.as_view(),
        name="admin-schedules-rebalance",
    ),
    path(
        "schedules/consolidate/",
        batches.ScheduleConsolidateApi.as_view(),
        name="admin-schedules-consolidate",
    ),
    path("schedules/<int:batch_id>/", batches.ScheduleDetailApi.as_view(), name="admin-schedule"),
    path(
        "schedules/<int:batch_id>/businesses/",
        batches.ScheduleBusinessesApi.as_view(),
        name="admin-schedule-businesses",
    ),
    path(
        "schedules/<int:batch_id>/executions/",
        batches.ScheduleExecutionsApi.as_view(),
        name="admin-schedule-executions",
    ),
    path(
        "schedules/<int:batch_id>/trigger/",
        batches.ScheduleTriggerApi.as_view(),
        name="admin-schedule-trigger",
    ),
    path(
        "schedules/<int:batch_id>/pause/",
        batches.SchedulePauseApi.as_view(),
        name="admin-schedule-pause",
    ),
    path(
        "schedules/<int:batch_id>/resume/",
        batches.ScheduleResumeApi.as_view(),
        name="admin-schedule-resume",
    ),
    path(
        "teams/<str:team_id>/schedules/",
        team_apis.TeamSchedulesApi.as_view(),
        name="admin-team-schedules",
    ),
    path(
        "teams/<str:team_id>/custom-interval/",
        team_apis.TeamCustomIntervalApi.as_view(),
        name="admin-team-custom-interval",
    ),
    path(
        "businesses/<int:business_id>/retry/",
        retry_apis.BusinessRetryApi.as_view(),
        name="admin-business-retry",
    ),
    path("retry-queue/", retry_apis.RetryQueueApi.as_view(), name="admin-retry-queue"),
    path("executions/", executions.ExecutionListApi.as_view(), name="admin-executions"),
    path(
        "executions/<uuid:execution_id>/",
        executions.ExecutionDetailApi.as_view(),
        name="admin-execution",
    ),
    path(
        "executions/<uuid:execution_id>/cancel/",
        executions.ExecutionCancelApi.as_view(),
        name="admin-execution-cancel",
    ),
    path(
        "executions/<uuid:execution_id>/retry/",
        executions.ExecutionRetryApi.as_view(),
        name="admin-execution-retry",
    ),
    path("audit-log/", access_apis.AuditLogApi.as_view(), name="admin-audit-log"),
    path("health/", monitoring_apis.HealthApi.as_view(), name="admin-health"),
    path("metrics/", monitoring_apis.MetricsApi.as_view(), name="admin-metrics"),
    path("capacity/", capacity_apis.CapacityApi.as_view(), name="admin-capacity"),
    path("dispatch/", dispatch.DispatchSwitchApi.as_view(), name="admin-dispatch"),
    path("dispatch/pause/", dispatch.DispatchPauseApi.as_view(), name="admin-dispatch-pause"),
    path("dispatch/resume/", dispatch.DispatchResumeApi.as_view(), name="admin-dispatch-resume"),
]
