"""Reads of the notifications app, scoped the way the caller may see them."""

from __future__ import annotations

from uuid import UUID

from django.db.models import QuerySet

from notifications.models import Alert, Delivery, DeliveryAttempt, WebhookEndpoint


def endpoint_list(*, bound_team: str | None) -> QuerySet[WebhookEndpoint]:
    """Every endpoint, or a team-bound key's own team's only."""
    endpoints = WebhookEndpoint.objects.order_by("-created_at")
    return endpoints if bound_team is None else endpoints.filter(team_id=bound_team)


def endpoint_get(*, bound_team: str | None, endpoint_id: UUID) -> WebhookEndpoint:
    """One endpoint in the caller's reach (another team's is a 404)."""
    return endpoint_list(bound_team=bound_team).get(id=endpoint_id)


def endpoint_deliveries(*, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")


def delivery_attempts(*, delivery_ids: list[int]) -> dict[int, list[DeliveryAttempt]]:
    """Each delivery's attempts, newest first, in one query."""
    attempts: dict[int, list[DeliveryAttempt]] = {d: [] for d in delivery_ids}
    for attempt in DeliveryAttempt.objects.filter(delivery_id__in=delivery_ids).order_by(
        "-attempted_at", "-id"
    ):
        attempts[attempt.delivery_id].append(attempt)
    return attempts


def alert_list(*, filters: dict | None = None) -> QuerySet[Alert]:
    filters = filters or {}
    alerts = Alert.objects.order_by("-created_at", "-id")
    for field in ("state", "kind", "status"):
        if filters.get(field):
            alerts = alerts.filter(**{field: filters[field]})
    return alerts
