"""POST /api/v1/webhooks/apify/: authenticate, validate, store once, answer at once."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scheduler_project.api import ERRORS
from webhooks.contract import WEBHOOK_EVENT_TYPES, WEBHOOK_SECRET_HEADER
from webhooks.services import webhook_event_receive

SECRET_INVALID = "Missing or wrong webhook secret."


class WebhookSecretAuthentication(BaseAuthentication):
    """The secret Apify sends back in a header (set through headersTemplate), compared in
    constant time. An empty configured secret accepts nothing."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, None]:
        given = request.headers.get(WEBHOOK_SECRET_HEADER, "").encode()
        expected = settings.APIFY_WEBHOOK_SECRET.encode()
        if not expected or not hmac.compare_digest(given, expected):
            raise AuthenticationFailed(SECRET_INVALID)
        return AnonymousUser(), None

    def authenticate_header(self, request: Request) -> str:
        return WEBHOOK_SECRET_HEADER  # makes DRF answer 401, not 403


class ResourceSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=64)
    status = serializers.CharField(max_length=32, required=False)


class ApifyWebhookApi(APIView):
    authentication_classes = [WebhookSecretAuthentication]
    permission_classes = [AllowAny]
    throttle_classes: list = []

    # Not a StrictInputSerializer: Apify writes this body, and a field it adds one day must
    # not turn every callback into a 400 (the run is re-fetched before anything is trusted).
    class InputSerializer(serializers.Serializer):
        eventType = serializers.ChoiceField(choices=WEBHOOK_EVENT_TYPES)
        resource = ResourceSerializer()
        eventData = serializers.DictField(required=False)
        createdAt = serializers.CharField(required=False, max_length=64)
        userId = serializers.CharField(required=False, max_length=64)

        class Meta:
            ref_name = "ApifyWebhookPayload"

    @extend_schema(
        request=InputSerializer,
        responses={
            202: inline_serializer(
                "WebhookAccepted",
                {"status": serializers.CharField(), "id": serializers.IntegerField()},
            ),
            200: inline_serializer("WebhookDuplicate", {"status": serializers.CharField()}),
            400: ERRORS[400],
            401: ERRORS[401],
        },
        operation_id="apify_webhook",
        description="Apify's callback. Stored once per (run id, event type); processed "
        "asynchronously; the run is re-fetched from Apify before anything is trusted.",
    )
    def post(self, request: Request) -> Response:
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        delivery = webhook_event_receive(
            run_id=serializer.validated_data["resource"]["id"],
            event_type=serializer.validated_data["eventType"],
            payload=request.data,
            dispatch_id=request.headers.get("X-Apify-Webhook-Dispatch-Id", "")[:64],
        )
        if delivery.duplicate:
            return Response({"status": "duplicate"}, status=status.HTTP_200_OK)
        return Response(
            {"status": "accepted", "id": delivery.event_id}, status=status.HTTP_202_ACCEPTED
        )
