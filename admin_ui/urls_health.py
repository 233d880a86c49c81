"""Health and metrics of the operators' API, included at /api/v1/admin/."""

from django.urls import path

from admin_ui.apis_health import HealthApi, MetricsApi

urlpatterns = [
    path("health/", HealthApi.as_view(), name="admin-health"),
    path("metrics/", MetricsApi.as_view(), name="admin-metrics"),
]
