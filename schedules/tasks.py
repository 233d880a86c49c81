"""Celery tasks: thin wrappers that load ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from scheduler_project import conf, task_names
from scheduler_project.enqueue import capacity_enqueue_admission
from schedules.services.capacity import account_refresh, capacity_sample_record
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start, executions_admit_and_launch
from schedules.services.ingest import webhook_event_ingest
from schedules.services.reconcile import (
    batches_repair_next_runs,
    executions_abort_cancelled,
    executions_reconcile,
    webhook_events_requeue_stale,
)
from schedules.services.retention import history_prune
from schedules.services.retry_runs import retry_runs_start_due

logger = logging.getLogger(__name__)


@shared_task(name=task_names.DISPATCH, ignore_result=True)
def dispatch() -> dict:
    result = dispatch_tick()
    return {"claimed": result.claimed, "created": result.created}


@shared_task(name=task_names.START, ignore_result=True)
def executions_start(execution_ids: list[str]) -> None:
    for execution_id in execution_ids:
        try:
            execution_start(execution_id=execution_id)
        except Exception:
            # One bad execution must not stop the others of the message; its lease
            # expires and recovery takes it again.
            logger.exception("start of %s crashed", execution_id, extra={"action": "start"})


@shared_task(name=task_names.ADMIT, ignore_result=True)
def admit() -> int:
    return len(executions_admit_and_launch(limit=conf.get().start_message_size))


@shared_task(name=task_names.CAPACITY_REFRESH, ignore_result=True)
def capacity_refresh() -> dict:
    """Read the account's limits, draw the minute's chart point, and admit what now fits."""
    account_refresh()
    sample = capacity_sample_record()
    capacity_enqueue_admission()
    return {"runs_in_use": sample.runs_in_use, "waiting": sample.waiting_executions}


@shared_task(name=task_names.RECONCILE, ignore_result=True)
def reconcile() -> dict:
    return {
        "requeued_callbacks": webhook_events_requeue_stale(),
        "finished": executions_reconcile(),
        "aborted": executions_abort_cancelled(),
        "repaired_next_runs": batches_repair_next_runs(),
    }


@shared_task(name=task_names.PRUNE_HISTORY, ignore_result=True)
def prune_history() -> dict:
    return history_prune().as_dict()


@shared_task(name=task_names.INGEST_CALLBACK, ignore_result=True)
def ingest_callback(event_id: int) -> str:
    return webhook_event_ingest(event_id=event_id)


@shared_task(name=task_names.START_DUE_RETRIES, ignore_result=True)
def start_due_retries() -> int:
    return len(retry_runs_start_due())
