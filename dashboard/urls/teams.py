"""Teams, businesses and the retry queue (included into the `dashboard` namespace)."""

from django.urls import path

from dashboard.views.businesses import BusinessDetailView, BusinessListView, BusinessRetryView
from dashboard.views.retry import RetryBulkView, RetryNowView, RetryQueueView
from dashboard.views.teams import (
    CustomIntervalRemoveView,
    CustomIntervalSetView,
    TeamDetailView,
    TeamListView,
)

urlpatterns = [
    path("teams/", TeamListView.as_view(), name="teams"),
    path("teams/<str:team_id>/", TeamDetailView.as_view(), name="team"),
    path(
        "teams/<str:team_id>/custom-interval/",
        CustomIntervalSetView.as_view(),
        name="team-custom-interval-set",
    ),
    path(
        "teams/<str:team_id>/custom-interval/remove/",
        CustomIntervalRemoveView.as_view(),
        name="team-custom-interval-remove",
    ),
    path("businesses/", BusinessListView.as_view(), name="businesses"),
    path("businesses/<int:business_id>/", BusinessDetailView.as_view(), name="business"),
    path("businesses/<int:business_id>/retry/", BusinessRetryView.as_view(), name="business-retry"),
    path("retry-queue/", RetryQueueView.as_view(), name="retry-queue"),
    path("retry-queue/bulk/", RetryBulkView.as_view(), name="retry-queue-bulk"),
    path("retry-queue/<int:entry_id>/retry/", RetryNowView.as_view(), name="retry-now"),
]
