from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("teams/", include("businesses.urls")),
    path("admin/", include("admin_ui.api_urls")),
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
    path("dashboard/", include("admin_ui.urls_dashboard")),
    path("api/v1/", include(api_v1)),
    path("", include("admin_ui.urls_probes")),
]

handler404 = "scheduler_project.views.not_found"
handler500 = "scheduler_project.views.server_error"
