"""Starting an execution: snapshot its businesses, build the input, start the actor run."""

from __future__ import annotations

import logging
from uuid import UUID

from django.db import transaction
from django.db.models.functions import Coalesce

from businesses.platforms import get_platform
from retry.services import retry_entries_record
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import capacity_enqueue_admission
from scheduler_project.observations import DISPATCH_LATENESS, observe
from schedules import apify
from schedules.admission import REFUSAL_HOLD
from schedules.models import Execution, Mapping
from schedules.services.capacity import Admitted, account_note_refusal, executions_admit
from schedules.services.executions import SnapshotEntry, execution_transition, team_counts_of
from schedules.services.run_input import run_input_build
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
    """Admit what fits of the pending queue and start those runs, on behalf of one execution
    (the start message's). Returns the state that execution reached here: `pending` when it
    waits for capacity, None when another worker holds or started it.

    Admission takes the queue from its head (oldest slot first), so this worker may start
    other executions than the one it was asked for; the one asked for starts when its turn
    comes. While the kill switch is on, nothing is taken.
    """
    reached = executions_admit_and_launch(limit=conf.get().start_message_size)
    if execution_id in reached:
        return reached[execution_id]
    waiting = Execution.objects.filter(
        id=execution_id, state=ExecutionState.PENDING, waiting_since__isnull=False
    ).exists()
    return ExecutionState.PENDING if waiting else None


def executions_admit_and_launch(*, limit: int) -> dict[UUID, str | None]:
    """One admission round, then start each admitted run here. A full round asks another
    worker to go on (the account may have more room), so a peak drains in parallel."""
    admitted = executions_admit(limit=limit)
    reached = {a.execution_id: execution_launch(a) for a in admitted}
    if len(admitted) == limit:
        capacity_enqueue_admission()
    return reached


def execution_launch(admitted: Admitted) -> str | None:
    """Start the run of an admitted (`starting`) execution.

    The `start_attempts` value admission wrote is a fencing token: if this worker is so slow
    that its lease expired and another attempt began, its late writes match no row, and the
    run it started is aborted.
    """
    execution = Execution.objects.filter(
        id=admitted.execution_id,
        state=ExecutionState.STARTING,
        start_attempts=admitted.attempt,
    ).first()
    if execution is None:
        return None
    fence = {"start_attempts": admitted.attempt}
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
            team_counts=team_counts_of(execution.business_snapshot),
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
    run_input = run_input_build(
        platform=platform, scrape_type=execution.scrape_type, snapshot=execution.business_snapshot
    )
    actor_id = platform.actor_id(execution.scrape_type)
    memory = execution.requested_memory_mbytes or platform.run_memory_mbytes(execution.scrape_type)
    try:
        run = apify.actor_run_start(
            actor_id=actor_id,
            run_input=run_input,
            idempotency_key=str(execution.id),
            memory_mbytes=memory,
        )
    except apify.ApifyCapacityRefused as exc:
        logger.info("start of %s refused: %s", execution_id, exc, extra={"action": "start"})
        if not conf.get().capacity_admission:
            _fail_start(execution, fence, actor_id, str(exc))
            return ExecutionState.FAILED
        _back_to_waiting(execution, fence, str(exc))
        account_note_refusal(exc)
        return ExecutionState.PENDING
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
    lateness = (db_now() - execution.scheduled_for).total_seconds()
    observe(DISPATCH_LATENESS, lateness, platform=execution.platform)
    return ExecutionState.RUNNING


def _back_to_waiting(execution: Execution, fence: dict, error: str) -> None:
    """A start Apify refused for the account's limits: it waits again, at its place in the
    queue (its slot did not change), and no business goes to the retry queue."""
    execution_transition(
        execution_id=execution.id,
        to=ExecutionState.PENDING,
        where=fence,
        only_from=[ExecutionState.STARTING],
        wait_reason=f"{REFUSAL_HOLD}: {error}"[:200],
        waiting_since=Coalesce("waiting_since", db_now()),
        lease_expires_at=None,
        requested_memory_mbytes=None,
    )


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
