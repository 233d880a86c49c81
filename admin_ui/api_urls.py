"""The operators' API under /api/v1/admin/ (admin key or staff session)."""

from django.urls import include, path

urlpatterns = [
    path("", include("admin_ui.urls_operations")),
    path("", include("admin_ui.urls_health")),
]
