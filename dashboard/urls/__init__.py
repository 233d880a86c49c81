"""The operators' dashboard under /dashboard/ (staff login)."""

from django.contrib.auth.views import LogoutView
from django.urls import include, path

from dashboard.views.auth import DashboardLoginView
from dashboard.views.overview import OverviewView
from dashboard.views.search import SearchView

app_name = "dashboard"

# The top navigation, in order; pages register their URL names below.
NAV = [
    ("dashboard:schedules", "Schedules"),
    ("dashboard:teams", "Teams"),
    ("dashboard:businesses", "Businesses"),
    ("dashboard:retry-queue", "Retry queue"),
    ("dashboard:executions", "Executions"),
    ("dashboard:queues", "Queues"),
    ("dashboard:audit-log", "Audit log"),
    ("dashboard:notifications", "Notifications"),
]

urlpatterns = [
    path("", OverviewView.as_view(), name="overview"),
    path("login/", DashboardLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="dashboard:login"), name="logout"),
    path("search/", SearchView.as_view(), name="search"),  # the top bar's search box
    # Each area's pages (their URL names live in this `dashboard` namespace).
    path("", include("dashboard.urls.schedules")),
    path("", include("dashboard.urls.teams")),
    path("", include("dashboard.urls.executions")),
    path("", include("dashboard.urls.notifications")),
    path("", include("dashboard.urls.monitoring")),  # charts' data, queues and workers
]
