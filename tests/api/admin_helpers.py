"""Helpers for the operators' API tests: rows placed directly, and a fingerprint of every
table an operator can write, to prove a refused request wrote nothing."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from access.models import AuditEvent
from businesses.models import Business, CustomInterval
from retry.models import RetryEntry
from schedules.models import Batch, Execution, Mapping

ADMIN = "/api/v1/admin"


def batch_of(business: Business, scrape_type: str = "reviews") -> Batch:
    return (
        Mapping.objects.select_related("batch__group")
        .get(business=business, scrape_type=scrape_type)
        .batch
    )


def make_execution(
    batch: Batch | None = None,
    *,
    state: str = "succeeded",
    trigger: str = "scheduled",
    ago: timedelta = timedelta(0),
    **fields: object,
) -> Execution:
    """An execution row in any state; `ago` moves its slot into the past."""
    when = timezone.now() - ago
    fields.setdefault("platform", batch.group.platform if batch else "google")
    fields.setdefault("scrape_type", batch.group.scrape_type if batch else "reviews")
    return Execution.objects.create(
        batch=batch, state=state, trigger=trigger, scheduled_for=when, **fields
    )


def executions_bulk(batch: Batch, count: int, **fields: object) -> list[Execution]:
    """`count` finished scheduled executions of a batch, one slot a minute apart."""
    now = timezone.now()
    return Execution.objects.bulk_create(
        Execution(
            batch=batch,
            platform=batch.group.platform,
            scrape_type=batch.group.scrape_type,
            trigger="scheduled",
            state="succeeded",
            scheduled_for=now - timedelta(minutes=i + 1),
            **fields,
        )
        for i in range(count)
    )


def db_fingerprint() -> tuple:
    """Every row an operator's write may touch, as plain values."""
    return (
        list(Batch.objects.order_by("id").values()),
        list(Mapping.objects.order_by("id").values("id", "batch_id", "business_id")),
        list(Execution.objects.order_by("id").values("id", "state", "batch_id", "error")),
        list(RetryEntry.objects.order_by("id").values()),
        list(CustomInterval.objects.order_by("id").values()),
        list(Business.objects.order_by("id").values("id", "active", "last_status")),
        AuditEvent.objects.count(),
    )
