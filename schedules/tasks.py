"""Celery tasks: thin wrappers that load ids and call one service."""

from __future__ import annotations

import logging

from celery import shared_task

from businesses.services import custom_intervals_expire
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.services.reconcile import executions_abort_cancelled, executions_reconcile
from schedules.services.retention import history_prune
from webhooks.services import webhook_events_requeue_stale

logger = logging.getLogger(__name__)

DISPATCH_TASK_NAME = "schedules.tasks.dispatch"
EXPIRE_TASK_NAME = "schedules.tasks.expire_custom_intervals"
RECONCILE_TASK_NAME = "schedules.tasks.reconcile"
RETENTION_TASK_NAME = "schedules.tasks.prune_history"


@shared_task(name=DISPATCH_TASK_NAME, ignore_result=True)
def dispatch() -> dict:
    result = dispatch_tick()
    return {"claimed": result.claimed, "created": result.created}


@shared_task(name="schedules.tasks.executions_start", ignore_result=True)
def executions_start(execution_ids: list[str]) -> None:
    for execution_id in execution_ids:
        try:
            execution_start(execution_id=execution_id)
        except Exception:
            # One bad execution must not stop the others of the message; its lease
            # expires and recovery takes it again.
            logger.exception("start of %s crashed", execution_id, extra={"action": "start"})


@shared_task(name=EXPIRE_TASK_NAME, ignore_result=True)
def expire_custom_intervals() -> int:
    return custom_intervals_expire()


@shared_task(name=RECONCILE_TASK_NAME, ignore_result=True)
def reconcile() -> dict:
    return {
        "requeued_callbacks": webhook_events_requeue_stale(),
        "finished": executions_reconcile(),
        "aborted": executions_abort_cancelled(),
    }


@shared_task(name=RETENTION_TASK_NAME, ignore_result=True)
def prune_history() -> dict:
    return history_prune().as_dict()
