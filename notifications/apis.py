"""/api/v1/webhook-endpoints/: product services subscribe to events (any API key; a
team-bound key only for its team), and /api/v1/admin/alerts/: the alert history."""

from __future__ import annotations

from uuid import UUID

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from access.apis import OperatorApi
from access.authentication import IsApiClient, actor_of, bound_team
from access.throttles import ProductRateThrottle
from notifications.models import Alert, AlertChannelState, Delivery, WebhookEndpoint
from notifications.models.webhooks import SUBSCRIBABLE
from notifications.selectors import (
    alert_list,
    delivery_attempts,
    endpoint_deliveries,
    endpoint_get,
    endpoint_list,
)
from notifications.services.delivery import delivery_replay
from notifications.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_update,
)
from notifications.services.events import endpoint_send_test
from scheduler_project.api import (
    ERRORS,
    PAGE_PARAMETERS,
    Pagination,
    StrictInputSerializer,
    page_of,
    paginate,
    query_filters,
)


class EndpointApi(APIView):
    permission_classes = [IsApiClient]
    throttle_classes = [ProductRateThrottle]
    throttle_scope = "product"

    def endpoint(self, request: Request, endpoint_id: UUID) -> WebhookEndpoint:
        return endpoint_get(bound_team=bound_team(request), endpoint_id=endpoint_id)


class EndpointOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "events",
            "team_id",
            "description",
            "enabled",
            "disabled_reason",
            "failing_since",
            "created_at",
            "updated_at",
        ]


class EndpointCreatedSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="The signing secret: shown this once.")

    class Meta(EndpointOutputSerializer.Meta):
        fields = [*EndpointOutputSerializer.Meta.fields, "secret"]


class EndpointListApi(EndpointApi):
    class InputSerializer(StrictInputSerializer):
        url = serializers.URLField(max_length=2000)
        events = serializers.ListField(child=serializers.ChoiceField(choices=SUBSCRIBABLE))
        team_id = serializers.CharField(max_length=64, required=False, allow_null=True)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_of("WebhookEndpointPage", EndpointOutputSerializer(many=True)),
            **ERRORS,
        },
        operation_id="webhook_endpoints_list",
        description="The endpoints in the caller's reach (a team-bound key: its team's).",
    )
    def get(self, request: Request) -> Response:
        endpoints = endpoint_list(bound_team=bound_team(request))
        return paginate(request, endpoints, EndpointOutputSerializer, self)

    @extend_schema(
        request=InputSerializer,
        responses={201: EndpointCreatedSerializer, **ERRORS},
        operation_id="webhook_endpoints_create",
        description="Subscribe a URL to events. The answer carries the signing secret "
        "(`whsec_…`) once. A team-bound key's endpoint is bound to its team.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        endpoint, secret = endpoint_create(
            url=data["url"],
            events=data["events"],
            team_id=data.get("team_id"),
            bound_team=bound_team(request),
            description=data.get("description", ""),
            actor=actor_of(request),
        )
        body = EndpointOutputSerializer(endpoint).data | {"secret": secret}
        return Response(body, status=status.HTTP_201_CREATED)


class EndpointDetailApi(EndpointApi):
    class InputSerializer(StrictInputSerializer):
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=SUBSCRIBABLE), required=False
        )
        enabled = serializers.BooleanField(required=False)
        description = serializers.CharField(max_length=500, required=False, allow_blank=True)

    @extend_schema(
        responses={200: EndpointOutputSerializer, **ERRORS}, operation_id="webhook_endpoint_get"
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        return Response(EndpointOutputSerializer(self.endpoint(request, endpoint_id)).data)

    @extend_schema(
        request=InputSerializer,
        responses={200: EndpointOutputSerializer, **ERRORS},
        operation_id="webhook_endpoint_update",
        description="Change the events, the description, or switch it on and off.",
    )
    def patch(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        endpoint = endpoint_update(
            endpoint=endpoint, actor=actor_of(request), **serializer.validated_data
        )
        return Response(EndpointOutputSerializer(endpoint).data)

    @extend_schema(responses={204: None, **ERRORS}, operation_id="webhook_endpoint_delete")
    def delete(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint_delete(endpoint=self.endpoint(request, endpoint_id), actor=actor_of(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


class SecretSerializer(serializers.Serializer):
    secret = serializers.CharField()
    previous_valid_until = serializers.DateTimeField()


class EndpointRotateSecretApi(EndpointApi):
    @extend_schema(
        request=None,
        responses={200: SecretSerializer, **ERRORS},
        operation_id="webhook_endpoint_rotate_secret",
        description="A new signing secret, shown once; the old one signs beside it "
        "for 24 h so receivers can switch without losing an event.",
    )
    def post(self, request: Request, endpoint_id: UUID) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        secret = endpoint_rotate_secret(endpoint=endpoint, actor=actor_of(request))
        endpoint.refresh_from_db()
        return Response({"secret": secret, "previous_valid_until": endpoint.previous_valid_until})


class AttemptSerializer(serializers.Serializer):
    attempted_at = serializers.DateTimeField()
    status_code = serializers.IntegerField(allow_null=True)
    latency_ms = serializers.IntegerField()
    error = serializers.CharField()
    response_snippet = serializers.CharField()


class DeliveryOutputSerializer(serializers.ModelSerializer):
    attempt_log = serializers.SerializerMethodField()

    class Meta:
        model = Delivery
        fields = [
            "id",
            "msg_id",
            "event_type",
            "team_id",
            "payload",
            "state",
            "attempts",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "created_at",
            "delivered_at",
            "attempt_log",
        ]

    def get_attempt_log(self, delivery: Delivery) -> list[dict]:
        attempts = self.context.get("attempts", {}).get(delivery.id, [])
        return AttemptSerializer(attempts, many=True).data


class EndpointDeliveriesApi(EndpointApi):
    @extend_schema(
        parameters=PAGE_PARAMETERS,
        responses={
            200: page_of("WebhookDeliveryPage", DeliveryOutputSerializer(many=True)),
            **ERRORS,
        },
        operation_id="webhook_endpoint_deliveries",
        description="The endpoint's deliveries, newest first, with every attempt.",
    )
    def get(self, request: Request, endpoint_id: UUID) -> Response:
        deliveries = endpoint_deliveries(endpoint=self.endpoint(request, endpoint_id))
        paginator = Pagination()
        page = paginator.paginate_queryset(deliveries, request, view=self)
        attempts = delivery_attempts(delivery_ids=[d.id for d in page])
        data = DeliveryOutputSerializer(page, many=True, context={"attempts": attempts}).data
        return paginator.get_paginated_response(data)


class EndpointTestApi(EndpointApi):
    @extend_schema(
        request=None,
        responses={202: DeliveryOutputSerializer, **ERRORS},
        operation_id="webhook_endpoint_send_test",
        description="Send a `webhook.test` event to this endpoint now.",
    )
    def post(self, request: Request, endpoint_id: UUID) -> Response:
        delivery = endpoint_send_test(endpoint=self.endpoint(request, endpoint_id))
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class DeliveryReplayApi(EndpointApi):
    @extend_schema(
        request=None,
        responses={202: DeliveryOutputSerializer, **ERRORS},
        operation_id="webhook_delivery_replay",
        description="Send a delivery again, with the same `webhook-id`.",
    )
    def post(self, request: Request, endpoint_id: UUID, delivery_id: int) -> Response:
        endpoint = self.endpoint(request, endpoint_id)
        delivery = endpoint_deliveries(endpoint=endpoint).get(id=delivery_id)
        delivery = delivery_replay(delivery=delivery, actor=actor_of(request))
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class AlertOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = [
            "id",
            "key",
            "kind",
            "status",
            "title",
            "body",
            "state",
            "channels",
            "attempts",
            "next_attempt_at",
            "created_at",
            "sent_at",
        ]


class AlertListApi(OperatorApi):
    class FilterSerializer(serializers.Serializer):
        state = serializers.ChoiceField(choices=AlertChannelState.choices, required=False)
        kind = serializers.ChoiceField(
            choices=["change", "resolved", "test", "digest"], required=False
        )

        class Meta:
            ref_name = "AlertFilter"

    @extend_schema(
        parameters=[FilterSerializer, *PAGE_PARAMETERS],
        responses={200: page_of("AlertPage", AlertOutputSerializer(many=True)), **ERRORS},
        operation_id="admin_alerts",
        description="Every alert sent (or failing), newest first, with what each "
        "channel (redacted URL) answered.",
    )
    def get(self, request: Request) -> Response:
        alerts = alert_list(filters=query_filters(request, self.FilterSerializer))
        return paginate(request, alerts, AlertOutputSerializer, self)
