"""Every URL of the service: the API (product, operators, webhook, schema), the dashboard,
the Django admin and the probes."""

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from scheduler_project.apidocs import SchemaApi, SwaggerDocsPage
from scheduler_project.views import favicon

api_v1 = [
    path("teams/", include("businesses.urls")),
    path("admin/", include("scheduler_project.operator_urls")),
    path("webhooks/", include("webhooks.urls")),
    path("webhook-endpoints/", include("notifications.urls")),
    # For callers only; a product key's schema shows the product API alone (apidocs.py).
    path("schema/", SchemaApi.as_view(), name="schema"),
    path("docs/", SwaggerDocsPage.as_view(url_name="schema"), name="docs"),
]

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:overview"), name="home"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("dashboard/", include("dashboard.urls")),
    path("api/v1/", include(api_v1)),
    path("", include("monitoring.urls")),
]

handler400 = "scheduler_project.views.bad_request"
handler403 = "scheduler_project.views.permission_denied"
handler404 = "scheduler_project.views.not_found"
handler500 = "scheduler_project.views.server_error"
