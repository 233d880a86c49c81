"""Reads of the Apify account's capacity: what the API, the dashboard, health and /metrics show
(SPEC §7 `GET /admin/capacity/`). Writes live in schedules.services.capacity."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Avg, Count, Min, Q, QuerySet, Sum
from django.db.models.functions import Coalesce, TruncDate

from businesses.platforms import get_platform
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.admission import Budget, budget_of
from schedules.models import ApifyAccount, Batch, Execution
from schedules.services.executions import team_counts_of
from schedules.states import ExecutionState

DEMAND_WINDOW = timedelta(days=7)
# What holds account memory: starting executions, running ones whose Apify run has not ended
# (an ended run frees the account while its dataset is ingested), and cancelled ones whose
# Apify run is not aborted yet (it still runs).
HOLDS_CAPACITY = (
    Q(state=ExecutionState.STARTING)
    | Q(state=ExecutionState.RUNNING, run_ended_at__isnull=True)
    | Q(state=ExecutionState.CANCELLED, run_abort_pending=True)
)
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class CapacityOverview:
    memory_mbytes_limit: int | None
    memory_mbytes_in_use: int
    runs_limit: int | None
    runs_in_use: int
    waiting_executions: int
    oldest_waiting_seconds: float
    monthly_usage_usd: Decimal | None
    monthly_limit_usd: Decimal | None
    demand_run_hours_per_day: float
    capacity_run_hours_per_day: float | None
    stop_reason: str
    limits_refreshed_at: datetime | None
    limits_age_seconds: float | None
    refresh_error: str
    external_memory_mbytes: int
    external_runs: int
    held_until: datetime | None
    refusals: int
    rate_limited: int
    last_refusal: str

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def demand_percent(self) -> float | None:
        if not self.capacity_run_hours_per_day:
            return None
        return 100.0 * self.demand_run_hours_per_day / self.capacity_run_hours_per_day


def account_budget(account: ApifyAccount) -> Budget:
    """The budget the account's stored figures and our caps give."""
    settings = conf.get()
    return budget_of(
        memory_limit_mbytes=account.memory_limit_mbytes,
        runs_limit=account.runs_limit,
        external_memory_mbytes=account.external_memory_mbytes,
        external_runs=account.external_runs,
        memory_cap_mbytes=settings.apify_max_memory_mbytes,
        runs_cap=settings.apify_max_concurrent_runs,
        monthly_limit_usd=account.monthly_limit_usd,
        monthly_usage_usd=account.monthly_usage_usd,
        monthly_headroom_usd=settings.monthly_usage_headroom_usd,
    )


def group_run_hours(since: datetime) -> dict[int, tuple[float, int]]:
    """Per schedule group: (average hours of its recent finished runs, average memory)."""
    rows = (
        Execution.objects.filter(
            finished_at__gte=since,
            state__in=[ExecutionState.SUCCEEDED, ExecutionState.FAILED],
            duration_ms__isnull=False,
            batch__isnull=False,
        )
        .values("batch__group_id")
        .annotate(ms=Avg("duration_ms"), memory=Avg("requested_memory_mbytes"))
    )
    return {r["batch__group_id"]: (float(r["ms"]) / 3_600_000, int(r["memory"] or 0)) for r in rows}


def demand_run_hours_per_day(now: datetime) -> tuple[float, int]:
    """Runs per day of every active, non-empty batch × its group's recent average run time;
    also the average memory of those runs (for the capacity in run slots)."""
    durations = group_run_hours(now - DEMAND_WINDOW)
    batches = (
        Batch.objects.filter(status="active", business_count__gt=0)
        .values("group_id", "group__interval_minutes", "group__platform", "group__scrape_type")
        .annotate(n=Count("id"))
    )
    demand, memory_weighted, runs_total = 0.0, 0.0, 0.0
    for row in batches:
        hours, memory = durations.get(row["group_id"], (0.0, 0))
        memory = memory or get_platform(row["group__platform"]).run_memory_mbytes(
            row["group__scrape_type"]
        )
        runs = row["n"] * DAY_MINUTES / max(row["group__interval_minutes"], 1)
        demand += runs * hours
        memory_weighted += runs * memory
        runs_total += runs
    return demand, int(memory_weighted / runs_total) if runs_total else 0


def capacity_run_hours(budget: Budget, average_memory: int) -> float | None:
    """Run hours per day the budget allows: its run slots, or fewer when memory binds."""
    slots = [budget.runs] if budget.runs is not None else []
    if budget.memory_mbytes is not None and average_memory:
        slots.append(budget.memory_mbytes // average_memory)
    return float(min(slots) * 24) if slots else None


def capacity_overview() -> CapacityOverview:
    """Limits, our usage and the waiting queue now; 4 queries."""
    account = ApifyAccount.objects.filter(pk=1).first() or ApifyAccount()
    now = db_now()
    row = Execution.objects.aggregate(
        memory=Coalesce(Sum("requested_memory_mbytes", filter=HOLDS_CAPACITY), 0),
        runs=Count("id", filter=HOLDS_CAPACITY),
        waiting=Count("id", filter=Q(state=ExecutionState.PENDING, waiting_since__isnull=False)),
        oldest=Min("waiting_since", filter=Q(state=ExecutionState.PENDING)),
    )
    budget = account_budget(account)
    demand, average_memory = demand_run_hours_per_day(now)
    age = (now - account.refreshed_at).total_seconds() if account.refreshed_at else None
    return CapacityOverview(
        memory_mbytes_limit=budget.memory_mbytes,
        memory_mbytes_in_use=row["memory"],
        runs_limit=budget.runs,
        runs_in_use=row["runs"],
        waiting_executions=row["waiting"],
        oldest_waiting_seconds=(now - row["oldest"]).total_seconds() if row["oldest"] else 0.0,
        monthly_usage_usd=account.monthly_usage_usd,
        monthly_limit_usd=account.monthly_limit_usd,
        demand_run_hours_per_day=round(demand, 2),
        capacity_run_hours_per_day=capacity_run_hours(budget, average_memory),
        stop_reason=budget.stop_reason,
        limits_refreshed_at=account.refreshed_at,
        limits_age_seconds=age,
        refresh_error=account.refresh_error,
        external_memory_mbytes=account.external_memory_mbytes,
        external_runs=account.external_runs,
        held_until=account.hold_until if account.hold_until and account.hold_until > now else None,
        refusals=account.refusals,
        rate_limited=account.rate_limited,
        last_refusal=account.last_refusal,
    )


def businesses_that_fit(overview: CapacityOverview, *, share: float) -> dict[str, int]:
    """How many more businesses each tier could add before demand passes `share` of the
    capacity, at the recent average run time and the platforms' batch sizes (rough: for the
    health message)."""
    if not overview.capacity_run_hours_per_day or not overview.demand_run_hours_per_day:
        return {}
    spare = overview.capacity_run_hours_per_day * share - overview.demand_run_hours_per_day
    active = Batch.objects.filter(status="active", business_count__gt=0)
    totals = active.aggregate(batches=Count("id"), businesses=Sum("business_count"))
    runs_per_day = sum(
        DAY_MINUTES / max(i, 1) for i in active.values_list("group__interval_minutes", flat=True)
    )
    if not runs_per_day or not totals["businesses"]:
        return {}
    hours_per_run = overview.demand_run_hours_per_day / runs_per_day
    per_batch = totals["businesses"] / totals["batches"]
    return {
        tier: max(0, int(spare / (DAY_MINUTES / minutes * hours_per_run) * per_batch))
        for tier, minutes in conf.get().tier_intervals.items()
    }


TEAM_COST_SQL = """
    SELECT t.key, SUM(e.usage_usd * t.value::numeric / e.business_count) AS usd
    FROM {table} e, jsonb_each_text(e.team_counts) t
    WHERE e.finished_at >= %s AND e.usage_usd IS NOT NULL AND e.business_count > 0
    GROUP BY t.key
"""


def _team_costs(costed: QuerySet, since: datetime) -> dict[str, Decimal]:
    """A run's cost shared among its snapshot's teams by their number of businesses: summed
    in PostgreSQL from `team_counts`; runs recorded before it (or on SQLite) from their
    snapshot here."""
    per_team: dict[str, Decimal] = {}
    slow = costed
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(TEAM_COST_SQL.format(table=Execution._meta.db_table), [since])
            per_team.update(cursor.fetchall())
        slow = costed.filter(team_counts={})
    rows = slow.values_list("usage_usd", "business_snapshot").iterator(chunk_size=2000)
    for usage, snapshot in rows:
        teams = team_counts_of(snapshot or [])
        total = sum(teams.values())
        for team, count in teams.items():
            per_team[team] = per_team.get(team, Decimal(0)) + usage * count / total
    return per_team


def cost_breakdown(*, since: datetime) -> dict[str, list[tuple[str, Decimal]]]:
    """Apify usage (USD) of the runs finished since `since`: per day, per platform and per
    team (`_team_costs`), in three aggregate queries."""
    costed = Execution.objects.filter(finished_at__gte=since, usage_usd__isnull=False)
    per_day = (
        costed.annotate(day=TruncDate("finished_at"))
        .values_list("day")
        .annotate(usd=Sum("usage_usd"))
        .order_by("day")
    )
    per_platform = costed.values_list("platform").annotate(usd=Sum("usage_usd")).order_by()

    def ranked(table: dict[str, Decimal]) -> list[tuple[str, Decimal]]:
        return sorted(((k, round(v, 4)) for k, v in table.items()), key=lambda kv: -kv[1])

    return {
        "per_day": [(f"{day:%Y-%m-%d}", round(usd, 4)) for day, usd in per_day],
        "per_platform": ranked(dict(per_platform)),
        "per_team": ranked(_team_costs(costed, since))[:20],
    }
