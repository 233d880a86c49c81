"""The operators' dashboard under /dashboard/ (staff login)."""

from django.contrib.auth.views import LogoutView
from django.urls import include, path

from admin_ui.views.auth import DashboardLoginView
from admin_ui.views.overview import OverviewView

app_name = "dashboard"

# The top navigation, in order; pages register their URL names below.
NAV = [
    ("dashboard:schedules", "Schedules"),
    ("dashboard:teams", "Teams"),
    ("dashboard:businesses", "Businesses"),
    ("dashboard:retry-queue", "Retry queue"),
    ("dashboard:executions", "Executions"),
    ("dashboard:audit-log", "Audit log"),
]

urlpatterns = [
    path("", OverviewView.as_view(), name="overview"),
    path("login/", DashboardLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    # Each area's pages (their URL names live in this `dashboard` namespace).
    path("", include("admin_ui.dashboard_urls.schedules")),
    path("", include("admin_ui.dashboard_urls.teams")),
    path("", include("admin_ui.dashboard_urls.executions")),
]
