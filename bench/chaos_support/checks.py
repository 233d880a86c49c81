"""The chaos run's checker: reads the execution history (and what the Apify sandbox saw) and
lists every broken promise. Pure reads; every timestamp compared is the database's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from statistics import quantiles
from typing import Any

ACTIVE = ("pending", "starting", "running")


@dataclass
class Verdict:
    figures: dict[str, Any] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def require(self, ok: bool, message: str) -> None:
        if not ok:
            self.violations.append(message)


def expected_slots(batches: list[Any], first_slot: datetime, last_slot: datetime) -> set:
    """Every (batch id, slot) of the timeline, from the project's own run-time grid."""
    slots = set()
    for batch in batches:
        grid = batch.grid()
        slot = grid.latest_at_or_before(first_slot)
        slot = slot if slot >= first_slot else grid.next_after(slot)
        while slot <= last_slot:
            slots.add((batch.id, slot))
            slot = grid.next_after(slot)
    return slots


def _percentile_ms(values: list[float], q: int) -> float:
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0] * 1000
    return quantiles(values, n=100, method="inclusive")[q - 1] * 1000


def check_history(
    *,
    group_id: int,
    first_slot: datetime,
    last_slot: datetime,
    tick_seconds: float,
    blackouts: list[tuple[datetime, datetime]],
    outages: list[tuple[datetime, datetime]],
    sandbox_runs: dict[str, Any],
    deliveries: list[Any],
) -> Verdict:
    """`last_slot`: the last moment whose slots must have run (pause time minus two ticks).
    `blackouts`: database moments when every dispatcher was down, then started again;
    `outages`: database moments just before a restart of PostgreSQL (or the loss of the
    primary) and just after it was back (the promoted standby answering through the pooler).
    `deliveries`: the sandbox's webhook deliveries, each attempt's HTTP status."""
    from schedules.models import Batch, Execution

    verdict = Verdict()
    batches = list(Batch.objects.filter(group_id=group_id).select_related("group"))
    scheduled = list(
        Execution.objects.filter(batch__group_id=group_id, trigger="scheduled").values(
            "id",
            "batch_id",
            "scheduled_for",
            "created_at",
            "state",
            "start_attempts",
            "apify_run_id",
            "items_count",
        )
    )
    _check_slots(verdict, batches, scheduled, expected_slots(batches, first_slot, last_slot))
    _check_timing(verdict, scheduled, 2 * tick_seconds, blackouts, outages)
    active = [e for e in scheduled if e["state"] in ACTIVE]
    verdict.figures.update(
        {
            "executions taken again after their lease": sum(
                1 for e in scheduled if e["start_attempts"] > 1
            ),
            "executions left pending/starting/running": len(active),
        }
    )
    verdict.require(
        not active,
        f"{len(active)} executions never finished, e.g. {[str(e['id']) for e in active[:3]]}",
    )
    _check_runs(verdict, scheduled, sandbox_runs)
    _check_callbacks(verdict, deliveries)
    return verdict


def _check_slots(verdict: Verdict, batches: list, scheduled: list[dict], expected: set) -> None:
    """One execution per slot of the timeline: none doubled, none missing or skipped."""
    per_slot = Counter((e["batch_id"], e["scheduled_for"]) for e in scheduled)
    duplicates = sum(count - 1 for count in per_slot.values() if count > 1)
    missing = expected - set(per_slot)
    missed_counted = sum(b.missed_runs_count for b in batches)
    verdict.figures.update(
        {
            "slots due in the timeline": len(expected),
            "scheduled executions": len(scheduled),
            "executions by state": dict(sorted(Counter(e["state"] for e in scheduled).items())),
            "duplicate executions of a slot": duplicates,
            "missed slots (no execution)": len(missing),
            "slots counted missed by the misfire policy": missed_counted,
        }
    )
    verdict.require(duplicates == 0, f"{duplicates} slots were executed more than once")
    verdict.require(not missing, f"{len(missing)} slots never ran, e.g. {sorted(missing)[:3]}")
    verdict.require(missed_counted == 0, f"{missed_counted} slots were skipped as misfires")


def _check_timing(
    verdict: Verdict,
    scheduled: list[dict],
    bound: float,
    blackouts: list[tuple[datetime, datetime]],
    outages: list[tuple[datetime, datetime]],
) -> None:
    """None before its slot; none later than `bound` after it, or after the comeback for the
    slots a blackout, a restart or the failover held up; dispatch back within `bound`."""
    lateness = [(e["created_at"] - e["scheduled_for"]).total_seconds() for e in scheduled]
    early = [x for x in lateness if x < 0]
    waits, restarts = _waits_after_comeback(scheduled, blackouts, bound)
    db_waits, db_back = _waits_after_comeback(scheduled, outages, bound)
    in_blackout = {e["id"] for e, _ in waits}
    blacked_out = len(waits)
    waits += [(e, x) for e, x in db_waits if e["id"] not in in_blackout]
    in_blackout |= {e["id"] for e, _ in db_waits}
    # (slot, wait): from the slot, or from the comeback for the slots a blackout held up.
    waited = [
        (e["scheduled_for"], x)
        for e, x in zip(scheduled, lateness, strict=True)
        if e["id"] not in in_blackout
    ] + [(e["scheduled_for"], x) for e, x in waits]
    late = sorted((x, slot) for slot, x in waited if x > bound)
    verdict.figures.update(
        {
            "dispatched before their slot (DB clock)": len(early),
            f"dispatched later than 2 ticks ({bound:g} s)": len(late),
            "slots held up by the blackout (every dispatcher down)": blacked_out,
            "dispatchers restarted to first dispatch (ms)": [round(x * 1000) for x in restarts],
            "slots held up by a database restart or failover": len(db_waits),
            "database back to first dispatch (ms)": [round(x * 1000) for x in db_back],
            "held-up slots dispatched after the comeback, max (ms)": round(
                max((x for _, x in waits), default=0) * 1000
            ),
            "lateness p50 (ms)": round(_percentile_ms(lateness, 50)),
            "lateness p99 (ms)": round(_percentile_ms(lateness, 99)),
            "lateness max (ms)": round(max(lateness, default=0) * 1000),
        }
    )
    verdict.require(not early, f"{len(early)} executions were created before their slot")
    verdict.require(
        not late,
        f"{len(late)} slots waited more than 2 ticks, the longest "
        f"{[f'{slot:%H:%M:%S} ({x:.1f} s)' for x, slot in late[-3:]]}",
    )
    verdict.require(
        all(x <= bound for x in db_back),
        f"dispatch came back later than 2 ticks after the database: {db_back} s",
    )


def _check_callbacks(verdict: Verdict, deliveries: list[Any]) -> None:
    """Every callback the webhook answered 2xx (Apify then never sends it again) is stored,
    whatever the database went through meanwhile; each stored one is processed once (the
    unprocessed count is `_check_runs`'s, the items' count per run its `lost_items`)."""
    from webhooks.models import WebhookEvent

    accepted = {
        (d.dispatch.run_id, d.dispatch.event_type)
        for d in deliveries
        if any(200 <= status < 300 for status in d.statuses)
    }
    stored = set(WebhookEvent.objects.values_list("run_id", "event_type"))
    lost = accepted - stored
    retried = sum(1 for d in deliveries if len(d.statuses) > 1)
    verdict.figures.update(
        {
            "callbacks answered 2xx": len(accepted),
            "callbacks answered 2xx but not stored": len(lost),
            "callbacks Apify had to send again (non-2xx or no answer first)": retried,
        }
    )
    verdict.require(not lost, f"{len(lost)} callbacks answered 2xx are not in the database")


def _waits_after_comeback(
    scheduled: list[dict], blackouts: list[tuple[datetime, datetime]], bound: float
) -> tuple[list[tuple[dict, float]], list[float]]:
    """Slots a blackout held up, each with its wait counted from the comeback; and how long
    each comeback took after the restart.

    The comeback is the first execution written after the dispatchers were started again
    (a process needs a few seconds to start). Held up: due before the comeback, and not
    dispatched before the blackout began (a slot due less than 2 ticks before it may be)."""
    waits, restarts = [], []
    for began, ended in blackouts:
        after = [e["created_at"] for e in scheduled if e["created_at"] >= ended]
        comeback = min(after, default=None)
        if comeback is None:
            continue
        restarts.append((comeback - ended).total_seconds())
        held_from = began - timedelta(seconds=bound)
        for execution in scheduled:
            slot, created = execution["scheduled_for"], execution["created_at"]
            if held_from < slot <= comeback and created >= began:
                waits.append((execution, (created - comeback).total_seconds()))
    return waits, restarts


def _check_runs(verdict: Verdict, scheduled: list[dict], sandbox_runs: dict[str, Any]) -> None:
    """Each execution's result comes from ONE run, with every item of that run counted; a run
    started twice for one execution (the start was cut off after Apify accepted it) is never
    attributed to anything."""
    from webhooks.models import WebhookEvent

    runs_per_execution: Counter = Counter()
    for run in sandbox_runs.values():
        for key in {w.get("idempotencyKey") for w in run.webhooks} - {None}:
            runs_per_execution[key] += 1
    recorded = {e["apify_run_id"] for e in scheduled if e["apify_run_id"]}
    orphans = set(sandbox_runs) - recorded
    orphan_ingests = WebhookEvent.objects.filter(run_id__in=orphans, status="processed").count()
    lost_items = [
        str(e["id"])
        for e in scheduled
        if e["state"] == "succeeded"
        and (run := sandbox_runs.get(e["apify_run_id"] or "")) is not None
        and e["items_count"] != len(run.items)
    ]
    events = Counter(WebhookEvent.objects.values_list("status", flat=True))
    unprocessed = events.get("received", 0)
    verdict.figures.update(
        {
            "extra actor runs for one execution (start cut off after Apify accepted it)": sum(
                n - 1 for n in runs_per_execution.values() if n > 1
            ),
            "runs no execution recorded, ingested anyway": orphan_ingests,
            "succeeded executions whose item count differs from their run": len(lost_items),
            "webhook events by status": dict(sorted(events.items())),
        }
    )
    verdict.require(not lost_items, f"{len(lost_items)} executions lost or doubled items")
    verdict.require(orphan_ingests == 0, f"{orphan_ingests} unrecorded runs were ingested")
    verdict.require(unprocessed == 0, f"{unprocessed} callbacks were never processed")
