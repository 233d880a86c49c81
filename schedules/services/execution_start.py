"""Starting an execution: snapshot its businesses, build the input, start the actor run."""

from __future__ import annotations

import logging
from uuid import UUID

from django.db import transaction
from django.db.models import F

from businesses.platforms import Target, get_platform
from retry.services import retry_entries_record
from scheduler_project.dbclock import db_now
from schedules import apify
from schedules.models import Execution, Mapping
from schedules.services.dispatch_switch import dispatch_is_paused
from schedules.services.executions import (
    SnapshotEntry,
    execution_transition,
    lease_expiry,
)
from schedules.states import ExecutionState

logger = logging.getLogger(__name__)

BATCH_EMPTY = "Skipped: the batch had no active business when its run was due."


def batch_snapshot(*, batch_id: int, scrape_type: str) -> list[SnapshotEntry]:
    """The active businesses of a batch, frozen: results are attributed to these only."""
    rows = (
        Mapping.objects.filter(batch_id=batch_id, scrape_type=scrape_type, business__active=True)
        .order_by("business_id")
        .values_list("business_id", "team_id", "business__external_id", "platform_key")
    )
    return [SnapshotEntry(business_id=b, team_id=t, external_id=e, key=k) for b, t, e, k in rows]


def execution_start(*, execution_id: UUID) -> str | None:
    """Take a pending execution and start its actor run. Returns the final state reached,
    or None when another worker holds it (nothing to do).

    The `start_attempts` value written when taking the lease is a fencing token: if this
    worker is so slow that its lease expired and another attempt began, its late writes
    match no row, and the run it started is aborted. While the kill switch is on, nothing is
    taken: the execution stays pending and resuming publishes it again.
    """
    if dispatch_is_paused():
        return None
    now = db_now()
    taken = execution_transition(
        execution_id=execution_id,
        to=ExecutionState.STARTING,
        only_from=[ExecutionState.PENDING],
        lease_expires_at=lease_expiry(now),
        start_attempts=F("start_attempts") + 1,
    )
    if not taken:
        return None
    execution = Execution.objects.get(id=execution_id)
    fence = {"start_attempts": execution.start_attempts}
    if not _take_snapshot(execution, fence):
        return ExecutionState.SKIPPED
    return _start_run(execution, fence)


def _take_snapshot(execution: Execution, fence: dict) -> bool:
    """Freeze the batch's active businesses onto the execution (a retry brings its own);
    an empty batch skips the execution. Returns whether there is anything to run."""
    if not execution.business_snapshot and execution.batch_id:
        execution.business_snapshot = batch_snapshot(
            batch_id=execution.batch_id, scrape_type=execution.scrape_type
        )
        execution.business_count = len(execution.business_snapshot)
        Execution.objects.filter(id=execution.id, **fence).update(
            business_snapshot=execution.business_snapshot,
            business_count=execution.business_count,
        )
    if execution.business_snapshot:
        return True
    execution_transition(
        execution_id=execution.id,
        to=ExecutionState.SKIPPED,
        where=fence,
        only_from=[ExecutionState.STARTING],
        error=BATCH_EMPTY,
        finished_at=db_now(),
        lease_expires_at=None,
    )
    return False


def _start_run(execution: Execution, fence: dict) -> str | None:
    """Start the actor run of a snapshotted execution and record it, unless another
    attempt took the execution over meanwhile (then the run is aborted)."""
    execution_id = execution.id
    platform = get_platform(execution.platform)
    targets = [
        Target(business_id=s["business_id"], external_id=s["external_id"], key=s["key"])
        for s in execution.business_snapshot
    ]
    actor_id = platform.actor_id(execution.scrape_type)
    memory = platform.run_memory_mbytes(execution.scrape_type)
    try:
        run = apify.actor_run_start(
            actor_id=actor_id,
            run_input=platform.batch_input(execution.scrape_type, targets),
            idempotency_key=str(execution.id),
            memory_mbytes=memory,
        )
    except apify.ApifyStartError as exc:
        logger.warning("start of %s failed: %s", execution_id, exc, extra={"action": "start"})
        _fail_start(execution, fence, actor_id, str(exc))
        return ExecutionState.FAILED

    recorded = execution_transition(
        execution_id=execution_id,
        to=ExecutionState.RUNNING,
        where=fence,
        only_from=[ExecutionState.STARTING],
        actor_id=actor_id,
        apify_run_id=run.run_id,
        apify_dataset_id=run.dataset_id,
        requested_memory_mbytes=memory,
        started_at=db_now(),
        lease_expires_at=None,
    )
    if not recorded:
        logger.warning(
            "execution %s was taken over while starting; aborting its run %s",
            execution_id,
            run.run_id,
            extra={"action": "start"},
        )
        apify.actor_run_abort(run.run_id)
        return None
    return ExecutionState.RUNNING


@transaction.atomic
def _fail_start(execution: Execution, fence: dict, actor_id: str, error: str) -> None:
    """A start that failed after the client's retries: the execution fails and each of its
    businesses goes to the retry queue."""
    failed = execution_transition(
        execution_id=execution.id,
        to=ExecutionState.FAILED,
        where=fence,
        only_from=[ExecutionState.STARTING],
        error=error,
        actor_id=actor_id,
        finished_at=db_now(),
        lease_expires_at=None,
        failed_count=len(execution.business_snapshot),
    )
    if failed:
        retry_entries_record(
            execution=execution,
            succeeded=[],
            failed={s["business_id"]: error for s in execution.business_snapshot},
        )
