"""Health at a glance (SPEC §3 "Health"): a pure grading function over plain values, and the
reader that gathers those values with a fixed number of aggregate queries.

Every threshold is a setting read with a default, and every comparison is strict: a value
equal to its threshold is still on the good side of it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, Max, Q, Sum
from django.db.models.functions import Now

from monitoring.queues import queue_states
from retry.models import RetryEntry, RetryState
from scheduler_project import conf
from schedules.capacity_selectors import businesses_that_fit, capacity_overview
from schedules.models import Batch, Execution, Heartbeat
from schedules.services.dispatch_switch import dispatch_switch_get
from schedules.states import ExecutionState
from webhooks.models import WebhookEvent, WebhookStatus

HEALTHY = "healthy"
WARNING = "warning"
CRITICAL = "critical"
STATUSES = (HEALTHY, WARNING, CRITICAL)
_SEVERITY = {status: rank for rank, status in enumerate(STATUSES)}

DISPATCHER_KIND = "dispatcher"

Number = int | float


@dataclass(frozen=True)
class HealthThresholds:
    """The grading's thresholds; their defaults are the `health_*` knobs of
    scheduler_project.conf (each overridden by `SCHEDULER_HEALTH_<X>`)."""

    utilisation_warning: float  # percent of the active batches' total capacity
    utilisation_critical: float
    pending_retries_warning: int
    dead_retries_critical: int
    heartbeat_critical_seconds: float
    stuck_executions_warning: int
    stuck_executions_critical: int
    webhook_failures_warning: int
    webhook_failures_window_seconds: int
    capacity_demand_warning: float  # percent of the Apify account's run hours per day

    @classmethod
    def from_settings(cls) -> HealthThresholds:
        knobs = conf.get()
        return cls(**{f.name: getattr(knobs, f"health_{f.name}") for f in fields(cls)})


@dataclass(frozen=True)
class HealthInputs:
    # Businesses over capacity across all active batches, in percent (None: no active batch).
    # Not the fullest batch: assignment fills a batch to capacity before opening the next,
    # so a full batch is normal; the share of all room in use is what runs out.
    utilisation: float | None
    pending_retries: int
    dead_retries: int
    heartbeat_age_seconds: float | None  # None when no dispatcher ever ticked
    stuck_executions: int
    webhook_failures: int  # failed webhook events inside the window
    dispatch_paused: str | None = None  # the kill switch's "who and why" while it is on
    # Per queue: (backlog, oldest message age in s, whether a live worker consumes it);
    # None when the broker could not be read (the reason in `queues_error`).
    queues: dict[str, tuple[int, float | None, bool]] | None = field(default_factory=dict)
    queues_error: str = ""
    tick_seconds: float = 10
    # The Apify account (SPEC §7): why starts are stopped (monthly usage), the schedules'
    # demand in percent of its capacity, and how many businesses per tier would still fit.
    capacity_stop: str = ""
    capacity_demand_percent: float | None = None
    capacity_fit: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    value: Number | None
    threshold: Number | None  # the threshold that decided (or the next one to cross)
    reason: str


def worst(statuses: list[str]) -> str:
    return max(statuses, key=_SEVERITY.__getitem__, default=HEALTHY)


def _grade(
    value: Number, *, warning: Number | None = None, critical: Number | None = None
) -> tuple[str, Number | None]:
    if critical is not None and value > critical:
        return CRITICAL, critical
    if warning is not None and value > warning:
        return WARNING, warning
    return HEALTHY, warning if warning is not None else critical


def _utilisation(value: float | None, t: HealthThresholds) -> Check:
    name = "batch_utilisation"
    if value is None:
        return Check(name, HEALTHY, None, t.utilisation_warning, "No active batch.")
    status, threshold = _grade(
        value, warning=t.utilisation_warning, critical=t.utilisation_critical
    )
    reason = f"Active batches hold {value:.1f} % of their total capacity"
    if status == HEALTHY:
        reason += f" (warning above {t.utilisation_warning:g} %)."
    else:
        reason += f", above the {status} threshold of {threshold:g} %: rebalance or add batches."
    return Check(name, status, round(value, 2), threshold, reason)


def _count(
    name: str,
    value: int,
    what: str,
    *,
    warning: int | None = None,
    critical: int | None = None,
) -> Check:
    status, threshold = _grade(value, warning=warning, critical=critical)
    if status == HEALTHY:
        reason = f"{value} {what} (at most {threshold} is healthy)."
    else:
        reason = f"{value} {what}, more than the {status} threshold of {threshold}."
    return Check(name, status, value, threshold, reason)


def _heartbeat(age: float | None, t: HealthThresholds) -> Check:
    name = "dispatcher_heartbeat"
    limit = t.heartbeat_critical_seconds
    if age is None:
        return Check(name, CRITICAL, None, limit, "No dispatcher has ever ticked.")
    status, _ = _grade(age, critical=limit)
    if status == CRITICAL:
        reason = f"No dispatcher tick for {age:.0f} s (critical after {limit:g} s)."
    else:
        reason = f"Last dispatcher tick {age:.0f} s ago (critical after {limit:g} s)."
    return Check(name, status, round(age, 1), limit, reason)


def _dispatch_switch(paused: str | None) -> Check:
    name = "dispatch_switch"
    if paused is None:
        return Check(name, HEALTHY, 0, None, "Dispatch and starts are running.")
    return Check(name, WARNING, 1, None, f"Dispatch and starts are paused: {paused}")


def _queues(
    queues: dict[str, tuple[int, float | None, bool]] | None, error: str, tick: float
) -> Check:
    """Critical when a queue's oldest message waited 2 ticks and no live worker reads the
    queue (work nobody will do); a warning when readers exist but fall behind."""
    name, limit = "queues", 2 * tick
    if queues is None:
        return Check(name, WARNING, None, limit, f"The broker's queues could not be read: {error}")
    stale = {q: v for q, v in queues.items() if v[0] and v[1] is not None and v[1] > limit}
    orphaned = sorted(q for q, (_, _, consumed) in stale.items() if not consumed)
    backlog = sum(v[0] for v in queues.values())
    if orphaned:
        ages = ", ".join(
            f"{q} ({stale[q][0]} waiting, oldest {stale[q][1]:.0f} s)" for q in orphaned
        )
        reason = f"No worker consumes {ages}: start one with -Q {','.join(orphaned)} or none."
        return Check(name, CRITICAL, len(orphaned), limit, reason)
    if stale:
        lagging = ", ".join(f"{q} (oldest {v[1]:.0f} s)" for q, v in sorted(stale.items()))
        return Check(name, WARNING, len(stale), limit, f"Workers fall behind on {lagging}.")
    return Check(
        name, HEALTHY, 0, limit, f"{backlog} messages waiting; none older than {limit:g} s."
    )


def _capacity(inputs: HealthInputs, t: HealthThresholds) -> Check:
    name, demand, limit = (
        "apify_capacity",
        inputs.capacity_demand_percent,
        t.capacity_demand_warning,
    )
    value = None if demand is None else round(demand, 1)
    if inputs.capacity_stop:
        return Check(name, CRITICAL, value, limit, f"Starts are stopped: {inputs.capacity_stop}.")
    if demand is None:
        return Check(name, HEALTHY, None, limit, "No demand or no known account limit yet.")
    if demand <= limit:
        return Check(name, HEALTHY, value, limit, f"Schedules use {demand:.0f} % of the account.")
    fit = ", ".join(f"{n} more at {tier}" for tier, n in inputs.capacity_fit.items()) or "none"
    reason = (
        f"Schedules need {demand:.0f} % of the Apify account's run hours (over {limit:g} %); "
        f"businesses that would still fit under it: {fit}."
    )
    return Check(name, WARNING, value, limit, reason)


def health_status(
    inputs: HealthInputs, thresholds: HealthThresholds | None = None
) -> tuple[str, list[Check]]:
    """The overall status (the worst check) and every check, in a fixed order."""
    t = thresholds or HealthThresholds.from_settings()
    window_minutes = t.webhook_failures_window_seconds / 60
    checks = [
        _utilisation(inputs.utilisation, t),
        _count(
            "pending_retries",
            inputs.pending_retries,
            "retry entries pending",
            warning=t.pending_retries_warning,
        ),
        _count(
            "dead_retries",
            inputs.dead_retries,
            "retry entries dead (retries exhausted)",
            critical=t.dead_retries_critical,
        ),
        _heartbeat(inputs.heartbeat_age_seconds, t),
        _count(
            "stuck_executions",
            inputs.stuck_executions,
            "executions pending or starting past their lease",
            warning=t.stuck_executions_warning,
            critical=t.stuck_executions_critical,
        ),
        _count(
            "webhook_failures",
            inputs.webhook_failures,
            f"webhook events failed in the last {window_minutes:g} min",
            warning=t.webhook_failures_warning,
        ),
        _dispatch_switch(inputs.dispatch_paused),
        _queues(inputs.queues, inputs.queues_error, inputs.tick_seconds),
        _capacity(inputs, t),
    ]
    return worst([c.status for c in checks]), checks


def _seconds(delta: timedelta | None) -> float | None:
    return None if delta is None else max(delta.total_seconds(), 0.0)


def health_inputs(thresholds: HealthThresholds | None = None) -> HealthInputs:
    """Read the inputs with five aggregate queries, whatever the number of rows. Ages are
    measured on the database clock, like every other time decision of the scheduler."""
    t = thresholds or HealthThresholds.from_settings()
    batches = Batch.objects.serving().aggregate(used=Sum("business_count"), room=Sum("capacity"))
    retries = RetryEntry.objects.aggregate(
        pending=Count("id", filter=Q(state=RetryState.PENDING)),
        dead=Count("id", filter=Q(state=RetryState.DEAD)),
    )
    heartbeat = Heartbeat.objects.filter(kind=DISPATCHER_KIND).aggregate(
        age=ExpressionWrapper(Now() - Max("last_seen_at"), output_field=DurationField())
    )
    stuck = Execution.objects.filter(
        state__in=[ExecutionState.PENDING, ExecutionState.STARTING], lease_expires_at__lt=Now()
    ).aggregate(n=Count("id"))
    window = timedelta(seconds=t.webhook_failures_window_seconds)
    webhooks = WebhookEvent.objects.filter(
        status=WebhookStatus.FAILED, received_at__gte=Now() - window
    ).aggregate(n=Count("id"))
    return HealthInputs(
        utilisation=(batches["used"] * 100.0 / batches["room"]) if batches["room"] else None,
        pending_retries=retries["pending"],
        dead_retries=retries["dead"],
        heartbeat_age_seconds=_seconds(heartbeat["age"]),
        stuck_executions=stuck["n"],
        webhook_failures=webhooks["n"],
        dispatch_paused=_dispatch_paused(),
        tick_seconds=conf.get().dispatch_tick_seconds,
        **_queue_inputs(t),
        **_capacity_inputs(t),
    )


def _capacity_inputs(t: HealthThresholds) -> dict:
    overview = capacity_overview()
    demand = overview.demand_percent
    over = demand is not None and demand > t.capacity_demand_warning
    return {
        "capacity_stop": overview.stop_reason,
        "capacity_demand_percent": demand,
        "capacity_fit": (
            businesses_that_fit(overview, share=t.capacity_demand_warning / 100) if over else {}
        ),
    }


def _queue_inputs(t: HealthThresholds) -> dict:
    """The broker's queues, and which of them a worker alive within the heartbeat limit
    says it consumes."""
    try:
        states = queue_states()
    except Exception as exc:  # the broker down is a finding, not a failed health page
        return {"queues": None, "queues_error": f"{type(exc).__name__}: {exc}"[:300]}
    alive_since = timedelta(seconds=t.heartbeat_critical_seconds)
    consumed: set[str] = set()
    for details in Heartbeat.objects.filter(
        kind="worker", last_seen_at__gte=Now() - alive_since
    ).values_list("details", flat=True):
        consumed.update((details or {}).get("queues") or [])
    return {
        "queues": {q.name: (q.backlog, q.oldest_age_seconds, q.name in consumed) for q in states}
    }


def _dispatch_paused() -> str | None:
    switch = dispatch_switch_get()
    if not switch.paused:
        return None
    return f"by {switch.changed_by} since {switch.changed_at:%Y-%m-%d %H:%M} UTC ({switch.reason})."


def health_report() -> tuple[str, list[Check]]:
    thresholds = HealthThresholds.from_settings()
    return health_status(health_inputs(thresholds), thresholds)
