"""Notifications: alert channels and history, product webhook endpoints and their deliveries
(URL names in the `dashboard` namespace)."""

from django.urls import path

from dashboard.views.notifications import (
    DeliveryReplayView,
    EndpointSendTestView,
    NotificationsView,
)

urlpatterns = [
    path("notifications/", NotificationsView.as_view(), name="notifications"),
    path(
        "notifications/endpoints/<uuid:endpoint_id>/send-test/",
        EndpointSendTestView.as_view(),
        name="notification-endpoint-test",
    ),
    # The delivery is the form's `delivery` field (its endpoint must own it).
    path(
        "notifications/endpoints/<uuid:endpoint_id>/deliveries/replay/",
        DeliveryReplayView.as_view(),
        name="notification-delivery-replay",
    ),
]
