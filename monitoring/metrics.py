"""Operational metrics: one snapshot read with a fixed number of aggregate queries, served
as JSON to operators (`/api/v1/admin/metrics/`) and as Prometheus text (`/metrics`).

The Prometheus side is a custom collector that takes a fresh snapshot at scrape time, in a
registry of its own: nothing is kept in process memory, so every web process answers the
same numbers (they come from the database).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Min,
    Q,
    Sum,
)
from django.db.models.functions import Cast, Now, NullIf, TruncDay
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from access.models import AuditEvent
from businesses.platforms import PLATFORMS
from monitoring.histograms import histogram_families
from retry.models import RetryEntry, RetryState
from schedules.capacity_selectors import capacity_overview
from schedules.models import Batch, BatchStatus, Execution, Trigger
from schedules.services.reconcile import NEXT_RUN_REPAIR
from schedules.states import ExecutionState
from webhooks.models import WebhookEvent, WebhookStatus

Snapshot = dict[str, Any]

_RATIO = Cast("business_count", FloatField()) / NullIf(F("capacity"), 0)
_SERVING = Q(business_count__gt=0)


def _executions() -> dict[str, Any]:
    rows = (
        Execution.objects.order_by()
        .values("state", "trigger")
        .annotate(
            total=Count("id"),
            last_24h=Count("id", filter=Q(created_at__gte=Now() - timedelta(hours=24))),
        )
    )
    by_state_trigger = {
        (s, t): {"total": 0, "last_24h": 0} for s in ExecutionState.values for t in Trigger.values
    }
    for row in rows:
        by_state_trigger[(row["state"], row["trigger"])] = {
            "total": row["total"],
            "last_24h": row["last_24h"],
        }

    def rollup(index: int, keys: list[str]) -> dict[str, dict[str, int]]:
        out = {k: {"total": 0, "last_24h": 0} for k in keys}
        for pair, counts in by_state_trigger.items():
            for field in ("total", "last_24h"):
                out[pair[index]][field] += counts[field]
        return out

    return {
        "total": sum(c["total"] for c in by_state_trigger.values()),
        "last_24h": sum(c["last_24h"] for c in by_state_trigger.values()),
        "by_state": rollup(0, ExecutionState.values),
        "by_trigger": rollup(1, Trigger.values),
        "by_state_and_trigger": [
            {"state": s, "trigger": t, **counts} for (s, t), counts in by_state_trigger.items()
        ],
    }


def _retry_queue() -> dict[str, int]:
    counts = dict.fromkeys(RetryState.values, 0)
    for row in RetryEntry.objects.order_by().values("state").annotate(n=Count("id")):
        counts[row["state"]] = row["n"]
    return counts


def _percent(ratio: float | None) -> float | None:
    return None if ratio is None else round(ratio * 100, 2)


def _batches() -> tuple[dict[str, int], dict[str, Any]]:
    """Batches by status and the utilisation of active batches (overall and per platform),
    from one grouped query."""
    by_status = dict.fromkeys(BatchStatus.values, 0)
    platforms: dict[str, dict[str, Any]] = {
        p: {"active_batches": 0, "average_percent": None, "max_percent": None} for p in PLATFORMS
    }
    rows = (
        Batch.objects.order_by()
        .values("group__platform", "status")
        # An emptied batch is not dispatched (it waits for its next business): it does not
        # count towards utilisation.
        .annotate(
            n=Count("id"),
            serving=Count("id", filter=_SERVING),
            avg=Avg(_RATIO, filter=_SERVING),
            top=Max(_RATIO, filter=_SERVING),
        )
    )
    weighted, active, top = 0.0, 0, None
    for row in rows:
        by_status[row["status"]] += row["n"]
        if row["status"] != BatchStatus.ACTIVE or row["avg"] is None:
            continue
        platforms[row["group__platform"]] = {
            "active_batches": row["serving"],
            "average_percent": _percent(row["avg"]),
            "max_percent": _percent(row["top"]),
        }
        weighted += row["avg"] * row["serving"]
        active += row["serving"]
        top = row["top"] if top is None else max(top, row["top"])
    utilisation = {
        "average_percent": _percent(weighted / active) if active else None,
        "max_percent": _percent(top),
        "by_platform": platforms,
    }
    return by_status, utilisation


def _webhook_events() -> dict[str, Any]:
    by_status = dict.fromkeys(WebhookStatus.values, 0)
    duplicates = 0
    rows = (
        WebhookEvent.objects.order_by()
        .values("status")
        .annotate(n=Count("id"), dup=Sum("duplicates"))
    )
    for row in rows:
        by_status[row["status"]] = row["n"]
        duplicates += row["dup"] or 0
    return {"by_status": by_status, "duplicates": duplicates}


def _apify() -> dict[str, Any]:
    """Cost of the executions finished today (UTC, database clock) and the failed
    executions whose error mentions Apify."""
    totals = Execution.objects.aggregate(
        cost=Sum("usage_usd", filter=Q(finished_at__gte=TruncDay(Now()))),
        errors=Count("id", filter=Q(state=ExecutionState.FAILED, error__icontains="apify")),
    )
    cost = totals["cost"] or Decimal(0)
    return {"cost_today_usd": float(round(cost, 6)), "errors": totals["errors"]}


def _repairs() -> dict[str, int]:
    """Batches whose far-future `next_run_at` the reconcile tick moved back to their grid
    (audit events, so the figure survives restarts and is the same from every process)."""
    return AuditEvent.objects.filter(action=NEXT_RUN_REPAIR).aggregate(
        next_run_at_total=Count("id"),
        next_run_at_last_24h=Count("id", filter=Q(created_at__gte=Now() - timedelta(hours=24))),
    )


def _dispatch_lag_seconds() -> float:
    """How late the oldest due active batch is (0 when none is due)."""
    lag = (
        Batch.objects.serving()
        .filter(next_run_at__lte=Now())
        .aggregate(lag=ExpressionWrapper(Now() - Min("next_run_at"), output_field=DurationField()))[
            "lag"
        ]
    )
    return 0.0 if lag is None else round(max(lag.total_seconds(), 0.0), 3)


def metrics_snapshot() -> Snapshot:
    """Every metric, from seven aggregate queries whatever the number of rows."""
    batches_by_status, utilisation = _batches()
    return {
        "executions": _executions(),
        "retry_queue": _retry_queue(),
        "batches": {"by_status": batches_by_status},
        "utilisation": utilisation,
        "webhook_events": _webhook_events(),
        "apify": _apify(),
        "dispatch_lag_seconds": _dispatch_lag_seconds(),
        "repairs": _repairs(),
    }


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"scheduler_{name}", doc, labels=labels)


class SchedulerCollector(Collector):
    """Reads `metrics_snapshot()` at every scrape."""

    def collect(self) -> Iterator[Metric]:
        snap = metrics_snapshot()
        executions = _gauge(
            "executions", "Executions by state and trigger (all time).", ["state", "trigger"]
        )
        recent = _gauge(
            "executions_last_24h",
            "Executions created in the last 24 hours by state and trigger.",
            ["state", "trigger"],
        )
        for row in snap["executions"]["by_state_and_trigger"]:
            executions.add_metric([row["state"], row["trigger"]], row["total"])
            recent.add_metric([row["state"], row["trigger"]], row["last_24h"])
        yield executions
        yield recent

        yield GaugeMetricFamily(
            "scheduler_dispatch_lag_seconds",
            "Seconds the oldest due active batch is late (0 when none is due).",
            value=snap["dispatch_lag_seconds"],
        )

        retries = _gauge("retry_queue", "Retry entries by state.", ["state"])
        for state, n in snap["retry_queue"].items():
            retries.add_metric([state], n)
        yield retries

        batches = _gauge("batches", "Batches by status.", ["status"])
        for status, n in snap["batches"]["by_status"].items():
            batches.add_metric([status], n)
        yield batches

        average = _gauge(
            "batch_utilisation_average_ratio",
            "Average business_count / capacity of active batches, per platform.",
            ["platform"],
        )
        top = _gauge(
            "batch_utilisation_max_ratio",
            "Fullest active batch (business_count / capacity), per platform.",
            ["platform"],
        )
        for platform, util in snap["utilisation"]["by_platform"].items():
            if util["average_percent"] is None:
                continue
            average.add_metric([platform], util["average_percent"] / 100)
            top.add_metric([platform], util["max_percent"] / 100)
        yield average
        yield top

        webhooks = _gauge("webhook_events", "Stored webhook events by status.", ["status"])
        for status, n in snap["webhook_events"]["by_status"].items():
            webhooks.add_metric([status], n)
        yield webhooks
        yield GaugeMetricFamily(
            "scheduler_webhook_duplicates",
            "Duplicate deliveries of stored webhook events.",
            value=snap["webhook_events"]["duplicates"],
        )

        yield GaugeMetricFamily(
            "scheduler_apify_errors",
            "Failed executions whose error mentions Apify.",
            value=snap["apify"]["errors"],
        )
        yield GaugeMetricFamily(
            "scheduler_apify_cost_today_usd",
            "Apify usage (USD) of the executions finished today (UTC).",
            value=snap["apify"]["cost_today_usd"],
        )

        yield from _capacity_gauges()
        yield from histogram_families()

        yield CounterMetricFamily(
            "scheduler_next_run_repairs",
            "Batches whose out-of-range next_run_at the reconcile tick moved back to their grid.",
            value=snap["repairs"]["next_run_at_total"],
        )

    def describe(self) -> list:
        # Nothing to describe up front: registering must not query the database.
        return []


CAPACITY_GAUGES = {
    "memory_mbytes_limit": "Memory (MB) our Apify runs may hold (account limit, lowered).",
    "memory_mbytes_in_use": "Memory (MB) requested by our starting and running executions.",
    "runs_limit": "Concurrent Apify runs we may hold.",
    "runs_in_use": "Our starting and running executions.",
    "waiting_executions": "Pending executions waiting for Apify capacity.",
    "oldest_waiting_seconds": "Seconds the oldest execution has waited for capacity.",
    "monthly_usage_usd": "The Apify account's usage this month (USD).",
    "monthly_limit_usd": "The Apify account's monthly usage limit (USD).",
    "demand_run_hours_per_day": "Run hours per day the active schedules need.",
    "capacity_run_hours_per_day": "Run hours per day the account's budget allows.",
    "limits_age_seconds": "Age of the Apify account figures admission uses.",
    "refusals": "402 answers to our starts (all time).",
    "rate_limited": "429 answers to our starts left after the client's retries (all time).",
}


def _capacity_gauges() -> Iterator[Metric]:
    """`scheduler_apify_<field>` for the capacity overview; unknown values are left out."""
    overview = capacity_overview().as_dict()
    for name, doc in CAPACITY_GAUGES.items():
        if overview[name] is not None:
            yield GaugeMetricFamily(f"scheduler_apify_{name}", doc, value=float(overview[name]))


def metrics_registry() -> CollectorRegistry:
    """A registry of our own (never the process-global default)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SchedulerCollector())
    return registry
