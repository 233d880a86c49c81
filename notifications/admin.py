"""Notifications in the Django admin: listed and searched; the writes an operator needs
(switch an endpoint on or off, replay a delivery) are actions through the services."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from access.admin_mixins import ReadOnlyAdmin, admin_actor
from notifications.models import Alert, AlertState, Delivery, DeliveryAttempt, WebhookEndpoint
from notifications.services.delivery import delivery_replay
from notifications.services.endpoints import endpoint_update


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = ("url", "team", "events", "enabled", "failing_since", "created_at")
    list_filter = ("enabled",)
    search_fields = ("url", "description", "=team__team_id")
    exclude = ("secret", "previous_secret")  # signing keys are never shown again
    actions = ("enable", "disable")

    @admin.action(description="Enable the selected endpoints")
    def enable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            endpoint_update(endpoint=endpoint, actor=admin_actor(request), enabled=True)
        self.message_user(request, f"{queryset.count()} enabled.", messages.SUCCESS)

    @admin.action(description="Disable the selected endpoints")
    def disable(self, request: HttpRequest, queryset: QuerySet) -> None:
        for endpoint in queryset:
            endpoint_update(endpoint=endpoint, actor=admin_actor(request), enabled=False)
        self.message_user(request, f"{queryset.count()} disabled.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and request.user.is_staff  # the list and its actions, no form


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "msg_id",
        "event_type",
        "team_id",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    )
    list_filter = ("state", "event_type")
    search_fields = ("=msg_id", "=team_id", "=endpoint__id")
    raw_id_fields = ("endpoint",)
    date_hierarchy = "created_at"
    actions = ("replay",)

    @admin.action(description="Replay the selected deliveries")
    def replay(self, request: HttpRequest, queryset: QuerySet) -> None:
        for delivery in queryset:
            delivery_replay(delivery=delivery, actor=admin_actor(request))
        self.message_user(request, f"{queryset.count()} queued again.", messages.SUCCESS)

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return obj is None and request.user.is_staff


@admin.register(DeliveryAttempt)
class DeliveryAttemptAdmin(ReadOnlyAdmin):
    list_display = ("delivery", "attempted_at", "status_code", "latency_ms", "error")
    list_filter = ("status_code",)
    search_fields = ("=delivery__msg_id",)
    raw_id_fields = ("delivery",)


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ("title", "kind", "status", "state", "attempts", "created_at", "sent_at")
    list_filter = ("kind", "status", "state")
    search_fields = ("key", "title")
    date_hierarchy = "created_at"


@admin.register(AlertState)
class AlertStateAdmin(ReadOnlyAdmin):
    list_display = ("key", "status", "changed_at", "reason")
    list_filter = ("status",)
    search_fields = ("key",)
