"""Time series for the dashboard's charts: executions by state, failures, items ingested,
lateness p50/p99, Apify cost and capacity in use, over the last 24 hours (hourly buckets) or
the last 7 days (daily buckets).

Everything is bucketed by the database (date_trunc through Django's Trunc functions) in a
fixed number of GROUP BY queries, whatever the number of executions or samples: one per
source (executions created, executions finished, lateness, capacity samples) plus the
database clock. Lateness percentiles use PostgreSQL's `percentile_cont`; on another database
they are None (the chart says so) rather than an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Avg, Count, Max, Sum
from django.db.models.functions import TruncDay, TruncHour

from scheduler_project.dbclock import db_now
from schedules.models import CapacitySample, Execution, Trigger
from schedules.states import ExecutionState

# The states that end an execution: the failure rate is failed / these.
FINISHED_STATES = (ExecutionState.SUCCEEDED, ExecutionState.FAILED)


@dataclass(frozen=True)
class ChartRange:
    key: str
    unit: str  # date_trunc's field: "hour" or "day"
    buckets: int
    step: timedelta
    label: str  # for axis labels: "executions per <label>"

    def truncate(self, moment: datetime) -> datetime:
        moment = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        return moment.replace(hour=0) if self.unit == "day" else moment

    def trunc(self, field: str) -> TruncHour | TruncDay:
        kind = TruncDay if self.unit == "day" else TruncHour
        return kind(field, tzinfo=UTC)


RANGES = {
    "24h": ChartRange("24h", "hour", 24, timedelta(hours=1), "hour"),
    "7d": ChartRange("7d", "day", 7, timedelta(days=1), "day"),
}
DEFAULT_RANGE = "24h"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:  # raw SQL hands back the truncated timestamp without a zone
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _executions(r: ChartRange, since: datetime, slot: dict[datetime, int]) -> dict[str, list]:
    """Executions created per bucket, per state (1 query)."""
    by_state = {state: [0] * r.buckets for state in ExecutionState.values}
    rows = (
        Execution.objects.filter(created_at__gte=since)
        .annotate(bucket=r.trunc("created_at"))
        .values("bucket", "state")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        index = slot.get(_as_utc(row["bucket"]))
        if index is not None and row["state"] in by_state:
            by_state[row["state"]][index] = row["n"]
    return by_state


def _finished(r: ChartRange, since: datetime, slot: dict[datetime, int]) -> dict[str, list]:
    """Items ingested and Apify cost of the executions finished per bucket (1 query)."""
    items, cost = [0] * r.buckets, [0.0] * r.buckets
    rows = (
        Execution.objects.filter(finished_at__gte=since)
        .annotate(bucket=r.trunc("finished_at"))
        .values("bucket")
        .annotate(items=Sum("items_count"), cost=Sum("usage_usd"))
        .order_by()
    )
    for row in rows:
        index = slot.get(_as_utc(row["bucket"]))
        if index is not None:
            items[index] = int(row["items"] or 0)
            cost[index] = round(float(row["cost"] or 0), 6)
    return {"items": items, "cost_usd": cost}


LATENESS_SQL = """
SELECT date_trunc(%s, scheduled_for AT TIME ZONE 'UTC') AS bucket,
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (
           ORDER BY EXTRACT(EPOCH FROM started_at - scheduled_for)
       ) AS p,
       count(*) AS n
FROM {table}
WHERE trigger = %s AND started_at IS NOT NULL AND scheduled_for >= %s
GROUP BY 1
"""


def _lateness(r: ChartRange, since: datetime, slot: dict[datetime, int]) -> dict[str, Any]:
    """p50/p99 of started_at - scheduled_for, in seconds, of the scheduled executions per
    slot bucket (1 query, PostgreSQL only: elsewhere every value is None)."""
    p50: list[float | None] = [None] * r.buckets
    p99: list[float | None] = [None] * r.buckets
    if connection.vendor != "postgresql":
        return {"lateness_p50_s": p50, "lateness_p99_s": p99, "percentiles": False}
    sql = LATENESS_SQL.format(table=connection.ops.quote_name(Execution._meta.db_table))
    with connection.cursor() as cursor:
        cursor.execute(sql, [r.unit, Trigger.SCHEDULED, since])
        rows = cursor.fetchall()
    for bucket, (median, high), _ in rows:
        index = slot.get(_as_utc(bucket))
        if index is not None:
            p50[index], p99[index] = round(median, 3), round(high, 3)
    return {"lateness_p50_s": p50, "lateness_p99_s": p99, "percentiles": True}


def _capacity(r: ChartRange, since: datetime, slot: dict[datetime, int]) -> dict[str, list]:
    """The account's runs in use (average and peak), its run limit and the peak of work
    waiting for room, per bucket of the minute samples (1 query); None where no sample."""
    keys = ("runs_in_use_avg", "runs_in_use_max", "runs_limit", "waiting_max")
    series: dict[str, list] = {key: [None] * r.buckets for key in keys}
    rows = (
        CapacitySample.objects.filter(at__gte=since)
        .annotate(bucket=r.trunc("at"))
        .values("bucket")
        .annotate(
            avg=Avg("runs_in_use"),
            top=Max("runs_in_use"),
            limit=Max("runs_limit"),
            waiting=Max("waiting_executions"),
        )
        .order_by()
    )
    for row in rows:
        index = slot.get(_as_utc(row["bucket"]))
        if index is None:
            continue
        series["runs_in_use_avg"][index] = round(float(row["avg"]), 2)
        series["runs_in_use_max"][index] = row["top"]
        series["runs_limit"][index] = row["limit"]
        series["waiting_max"][index] = row["waiting"]
    return series


def _failure_rate(by_state: dict[str, list], buckets: int) -> list[float | None]:
    rates: list[float | None] = []
    for index in range(buckets):
        finished = sum(by_state[state][index] for state in FINISHED_STATES)
        failed = by_state[ExecutionState.FAILED][index]
        rates.append(round(100.0 * failed / finished, 2) if finished else None)
    return rates


def chart_series(range_key: str = DEFAULT_RANGE, *, now: datetime | None = None) -> dict:
    """Every chart's series over one range, aligned on the same buckets (oldest first,
    each the UTC start of its hour or day, in Unix seconds: what uPlot draws). Raises
    KeyError for an unknown range. 5 queries."""
    r = RANGES[range_key]
    now = now or db_now()
    start = r.truncate(now) - (r.buckets - 1) * r.step
    buckets = [start + n * r.step for n in range(r.buckets)]
    slot = {bucket: n for n, bucket in enumerate(buckets)}
    by_state = _executions(r, start, slot)
    return {
        "range": r.key,
        "bucket": r.unit,
        "bucket_label": r.label,
        "now": now.isoformat(),
        "x": [int(bucket.timestamp()) for bucket in buckets],
        "states": list(ExecutionState.values),
        "executions": by_state,
        "failed": by_state[ExecutionState.FAILED],
        "failure_rate_percent": _failure_rate(by_state, r.buckets),
        **_finished(r, start, slot),
        **_lateness(r, start, slot),
        "capacity": _capacity(r, start, slot),
    }
