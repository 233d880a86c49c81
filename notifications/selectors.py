"""Reads of the notifications app, scoped the way the caller may see them."""

from __future__ import annotations

from uuid import UUID

from django.db.models import F, Q, QuerySet, Window
from django.db.models.functions import RowNumber

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


def endpoint_recent_deliveries(
    *, endpoint_ids: list[UUID], per_endpoint: int
) -> dict[UUID, list[Delivery]]:
    """Each endpoint's `per_endpoint` newest deliveries, newest first, in one query (their
    payload left out)."""
    recent: dict[UUID, list[Delivery]] = {e: [] for e in endpoint_ids}
    newest_first = Window(
        RowNumber(),
        partition_by=[F("endpoint_id")],
        order_by=[F("created_at").desc(), F("id").desc()],
    )
    deliveries = (
        Delivery.objects.filter(endpoint_id__in=endpoint_ids)
        .defer("payload")
        .annotate(rank=newest_first)
        .filter(rank__lte=per_endpoint)
        .order_by("endpoint_id", "rank")
    )
    for delivery in deliveries:
        recent[delivery.endpoint_id].append(delivery)
    return recent


def alert_channels_last(*, channels: list[str]) -> dict[str, Alert]:
    """For each channel (its redacted URL), the newest alert that went to it, in one query;
    a channel no alert has gone to yet is left out."""
    if not channels:
        return {}
    newest = Q()
    for name in channels:
        newest |= Q(
            pk__in=Alert.objects.filter(channels__has_key=name)
            .order_by("-created_at", "-id")
            .values("pk")[:1]
        )
    last: dict[str, Alert] = {}
    for alert in Alert.objects.filter(newest).defer("body").order_by("-created_at", "-id"):
        for name in channels:
            if name in alert.channels:
                last.setdefault(name, alert)
    return last
