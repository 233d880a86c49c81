"""Every URL of the service: the API (product, operators, webhook, schema), the dashboard,
the Django admin and the probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("teams/", include("businesses.urls")),
    path("admin/", include("scheduler_project.operator_urls")),
    path("webhooks/", include("webhooks.urls")),
    path("schema/", SpectacularAPIView.as_view(permission_classes=[]), name="schema"),
    path(
        "docs/",
        SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[]),
        name="docs",
    ),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("api/v1/", include(api_v1)),
    path("", include("monitoring.urls")),
]

handler404 = "scheduler_project.views.not_found"
handler500 = "scheduler_project.views.server_error"
