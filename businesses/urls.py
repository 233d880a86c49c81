"""The product API under /api/v1/teams/ (product keys; every path scoped by its team)."""

from django.urls import path

from businesses.apis import product as apis

urlpatterns = [
    path("<str:team_id>/", apis.TeamApi.as_view(), name="team"),
    path("<str:team_id>/businesses/", apis.BusinessListApi.as_view(), name="team-businesses"),
    path(
        "<str:team_id>/businesses/<int:business_id>/",
        apis.BusinessDetailApi.as_view(),
        name="team-business",
    ),
    path(
        "<str:team_id>/businesses/<int:business_id>/reviews/",
        apis.BusinessReviewsApi.as_view(),
        name="team-business-reviews",
    ),
]
