"""/api/v1/webhook-endpoints/ (any API key; a team-bound key within its team)."""

from django.urls import path

from notifications import apis

urlpatterns = [
    path("", apis.EndpointListApi.as_view(), name="webhook-endpoints"),
    path("<uuid:endpoint_id>/", apis.EndpointDetailApi.as_view(), name="webhook-endpoint"),
    path(
        "<uuid:endpoint_id>/rotate-secret/",
        apis.EndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("<uuid:endpoint_id>/test/", apis.EndpointTestApi.as_view(), name="webhook-endpoint-test"),
    path(
        "<uuid:endpoint_id>/deliveries/",
        apis.EndpointDeliveriesApi.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        "<uuid:endpoint_id>/deliveries/<int:delivery_id>/replay/",
        apis.DeliveryReplayApi.as_view(),
        name="webhook-delivery-replay",
    ),
]
