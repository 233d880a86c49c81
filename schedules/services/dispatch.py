"""The dispatcher tick: claim due batches, write their executions, enqueue their starts.

Safe to run from any number of beats, workers and `run_dispatcher` processes at once:
rows are claimed with FOR UPDATE SKIP LOCKED and `next_run_at` moves past the slot in the
same transaction, and UNIQUE (batch, scheduled_for) refuses a second execution of a slot
whatever happens.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q

from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import capacity_enqueue_admission, executions_enqueue_start
from schedules.heartbeats import heartbeat_record
from schedules.models import Batch, Execution, MisfirePolicy, OverlapPolicy, Trigger
from schedules.policies import plan_due_slot
from schedules.services.batches import batches_resume_due_pauses
from schedules.services.capacity import account_refresh_if_stale
from schedules.services.dispatch_switch import dispatch_is_paused
from schedules.services.executions import execution_build, lease_expiry
from schedules.states import ACTIVE_STATES, ExecutionState, sources_of

logger = logging.getLogger(__name__)

OVERLAP_SKIPPED = "Skipped: the previous execution of this batch is still active."
OVERLAP_CANCELLED = "Cancelled: a newer slot started (overlap policy cancel_previous)."


@dataclass
class TickResult:
    claimed: int = 0
    created: int = 0
    skipped_overlap: int = 0
    missed_slots: int = 0
    cancelled_previous: int = 0
    recovered: int = 0
    emptied: int = 0  # empty batches advanced without an execution
    resumed: int = 0  # paused batches whose `paused_until` came
    paused: bool = False  # the kill switch is on: nothing was claimed
    chunks: int = 0
    execution_ids: list = field(default_factory=list, repr=False)

    def add(self, other: TickResult) -> None:
        for name in (
            "claimed",
            "created",
            "skipped_overlap",
            "missed_slots",
            "cancelled_previous",
            "recovered",
            "emptied",
            "resumed",
            "chunks",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.execution_ids.extend(other.execution_ids)


def _active_executions(batch_ids: list[int]) -> dict[int, list]:
    rows = Execution.objects.filter(batch_id__in=batch_ids, state__in=ACTIVE_STATES)
    active = defaultdict(list)
    for batch_id, execution_id in rows.values_list("batch_id", "id"):
        active[batch_id].append(execution_id)
    return active


ADVANCED_FIELDS = ("next_run_at", "missed_runs_count", "last_run_at", "updated_at")


def _save_advanced(batches: list[Batch]) -> None:
    """Write the claimed batches' new slots in ONE statement.

    Django's bulk_update builds a CASE per field and row: at 500 rows that was two thirds of
    a tick's time (bench/dispatch.py). On PostgreSQL an UPDATE … FROM unnest(arrays) does it
    with five parameters whatever the chunk size.
    """
    if connection.vendor != "postgresql":
        Batch.objects.bulk_update(batches, ADVANCED_FIELDS)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {Batch._meta.db_table} AS b
            SET next_run_at = v.next_run_at, missed_runs_count = v.missed_runs_count,
                last_run_at = v.last_run_at, updated_at = v.updated_at
            FROM unnest(%s::bigint[], %s::timestamptz[], %s::integer[], %s::timestamptz[],
                        %s::timestamptz[])
                AS v(id, next_run_at, missed_runs_count, last_run_at, updated_at)
            WHERE b.id = v.id
            """,
            [[b.pk for b in batches], *([getattr(b, f) for b in batches] for f in ADVANCED_FIELDS)],
        )


def _plan_executions(
    batches: list[Batch], now: datetime, result: TickResult
) -> tuple[list[Execution], list]:
    """Advance each claimed batch past its due slot (misfire policy) and build the slot's
    execution (overlap policy). Returns the executions and the previous ones to cancel."""
    catchup = timedelta(seconds=conf.get().catchup_window_seconds)
    active = _active_executions([b.pk for b in batches])
    executions: list[Execution] = []
    to_cancel: list = []
    for batch in batches:
        plan = plan_due_slot(
            grid=batch.grid(),
            next_run_at=batch.next_run_at,
            now=now,
            catchup_window=catchup,
            always_run_once=batch.misfire_policy == MisfirePolicy.RUN_ONCE,
        )
        batch.next_run_at = plan.next_run_at
        batch.updated_at = now
        if batch.business_count == 0:
            # Emptied (a tier change, an expired interval, deletes): nothing to run and no
            # slot missed; its slots stay current for the next business that joins.
            result.emptied += 1
            continue
        batch.missed_runs_count += plan.missed
        result.missed_slots += plan.missed
        if plan.run_slot is None:
            continue
        batch.last_run_at = now
        execution = execution_build(
            trigger=Trigger.SCHEDULED,
            now=now,
            batch=batch,
            platform=batch.group.platform,
            scrape_type=batch.group.scrape_type,
            scheduled_for=plan.run_slot,
            missed_slots=plan.missed,
        )
        previous = active.get(batch.pk, [])
        if previous and batch.overlap_policy == OverlapPolicy.SKIP:
            execution.state = ExecutionState.SKIPPED
            execution.error = OVERLAP_SKIPPED
            execution.finished_at = now
            execution.lease_expires_at = None
            result.skipped_overlap += 1
        elif previous and batch.overlap_policy == OverlapPolicy.CANCEL_PREVIOUS:
            to_cancel.extend(previous)
        executions.append(execution)
    return executions, to_cancel


@transaction.atomic
def dispatch_chunk(*, limit: int) -> TickResult:
    """Claim up to `limit` due batches and dispatch them in ONE transaction.

    Queries: claim, clock, active executions, [cancel], insert, batch update, inserted ids;
    the same count for 1 or `limit` batches.
    """
    batches = list(Batch.objects.claim(limit).select_related("group"))
    result = TickResult(claimed=len(batches), chunks=1)
    if not batches:
        return result
    now = db_now()
    executions, to_cancel = _plan_executions(batches, now, result)
    if to_cancel:
        result.cancelled_previous = Execution.objects.filter(
            id__in=to_cancel, state__in=sources_of(ExecutionState.CANCELLED)
        ).update(
            state=ExecutionState.CANCELLED,
            finished_at=now,
            error=OVERLAP_CANCELLED,
            run_abort_pending=Q(apify_run_id__isnull=False),
        )
        capacity_enqueue_admission()
    # ON CONFLICT DO NOTHING: a slot that already has an execution keeps it.
    Execution.objects.bulk_create(executions, ignore_conflicts=True)
    _save_advanced(batches)
    to_start = [e.id for e in executions if e.state == ExecutionState.PENDING]
    if to_start:
        to_start = list(Execution.objects.filter(id__in=to_start).values_list("id", flat=True))
    result.created = len(to_start)
    result.execution_ids = to_start
    executions_enqueue_start(to_start)
    return result


@transaction.atomic
def executions_recover_expired_leases(*, limit: int = 500) -> list:
    """Put back executions whose start worker died (lease run out) and re-enqueue them.

    `starting → pending` gives the start a fresh lease; the start task's fencing token
    (start_attempts) stops a slow old worker from overwriting the new attempt.
    """
    now = db_now()
    expired = list(
        Execution.objects.select_for_update(skip_locked=True)
        .filter(
            state__in=[ExecutionState.PENDING, ExecutionState.STARTING],
            lease_expires_at__lt=now,
        )
        .order_by("lease_expires_at")
        .values_list("id", flat=True)[:limit]
    )
    if expired:
        Execution.objects.filter(id__in=expired).update(
            state=ExecutionState.PENDING,
            lease_expires_at=lease_expiry(now),
        )
        logger.warning(
            "re-enqueued %d executions whose lease expired",
            len(expired),
            extra={"action": "lease_recovery"},
        )
        executions_enqueue_start(expired)
    return expired


def _admission_keepalive() -> None:
    """Keep the account's figures fresh and, while starts wait, ask for an admission round:
    a waiting execution has no lease and no message of its own, so room that came without a
    run ending (limits raised, a hold ran out) is used within a tick."""
    try:
        account_refresh_if_stale()
    except Exception:  # the tick must go on whatever the account read does
        logger.exception("account refresh failed", extra={"action": "capacity"})
    if Execution.objects.filter(state=ExecutionState.PENDING, waiting_since__isnull=False).exists():
        capacity_enqueue_admission()


def dispatch_tick(*, chunk_size: int | None = None, max_chunks: int = 1000) -> TickResult:
    """One tick: recover expired leases, then dispatch due batches chunk by chunk until
    none is left (or `max_chunks`, so one tick cannot run forever)."""
    chunk_size = chunk_size or conf.get().claim_chunk
    result = TickResult()
    if dispatch_is_paused():
        heartbeat_record("dispatcher", claimed=0, created=0, paused=True)
        result.paused = True
        return result
    result.resumed = batches_resume_due_pauses()
    result.recovered = len(executions_recover_expired_leases())
    for _ in range(max_chunks):
        chunk = dispatch_chunk(limit=chunk_size)
        result.add(chunk)
        if chunk.claimed < chunk_size:
            break
    _admission_keepalive()
    heartbeat_record("dispatcher", claimed=result.claimed, created=result.created)
    if result.claimed:
        logger.info(
            "dispatched %d executions from %d due batches (%d skipped, %d missed slots)",
            result.created,
            result.claimed,
            result.skipped_overlap,
            result.missed_slots,
            extra={"action": "dispatch"},
        )
    return result
