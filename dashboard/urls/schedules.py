"""Schedules (batches of the global schedules): list, detail and the operator's controls."""

from django.urls import path

from dashboard.views.schedules import (
    BatchPauseView,
    BatchResumeView,
    BatchTriggerView,
    ScheduleBulkView,
    ScheduleConsolidateView,
    ScheduleDetailView,
    ScheduleListView,
    ScheduleRebalanceView,
)

urlpatterns = [
    path("schedules/", ScheduleListView.as_view(), name="schedules"),
    path("schedules/bulk/", ScheduleBulkView.as_view(), name="schedules-bulk"),
    path("schedules/rebalance/", ScheduleRebalanceView.as_view(), name="schedules-rebalance"),
    path("schedules/consolidate/", ScheduleConsolidateView.as_view(), name="schedules-consolidate"),
    path("schedules/<int:batch_id>/", ScheduleDetailView.as_view(), name="schedule"),
    path("schedules/<int:batch_id>/pause/", BatchPauseView.as_view(), name="schedule-pause"),
    path("schedules/<int:batch_id>/resume/", BatchResumeView.as_view(), name="schedule-resume"),
    path("schedules/<int:batch_id>/trigger/", BatchTriggerView.as_view(), name="schedule-trigger"),
]
