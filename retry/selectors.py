"""Reads of the retry queue for the operators' API."""

from __future__ import annotations

from django.db.models import F, QuerySet

from retry.models import RetryEntry


def retry_entry_list(*, filters: dict | None = None) -> QuerySet[RetryEntry]:
    """Retry entries with their business joined, soonest attempt first (closed ones last),
    filtered by state, platform, scrape_type and team_id."""
    filters = filters or {}
    queryset = RetryEntry.objects.select_related("business")
    if filters.get("state"):
        queryset = queryset.filter(state=filters["state"])
    if filters.get("scrape_type"):
        queryset = queryset.filter(scrape_type=filters["scrape_type"])
    if filters.get("platform"):
        queryset = queryset.filter(business__platform=filters["platform"])
    if filters.get("team_id"):
        queryset = queryset.filter(business__team_id=filters["team_id"])
    return queryset.order_by(F("next_attempt_at").asc(nulls_last=True), "-updated_at", "id")
