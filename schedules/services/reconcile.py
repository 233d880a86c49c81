"""Nothing stays stuck: finish runs whose webhook never came, abort runs nobody wants."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction

from scheduler_project.dbclock import db_now
from schedules import apify
from schedules.models import Execution
from schedules.states import ExecutionState
from webhooks.services import execution_ingest

logger = logging.getLogger(__name__)


def executions_reconcile(*, limit: int = 100) -> int:
    """Ask Apify about executions still running past the run timeout plus grace, and finish
    them through the webhook's own ingest path. Returns how many were finished."""
    overdue_after = timedelta(
        seconds=settings.SCHEDULER_RUN_TIMEOUT_SECONDS + settings.SCHEDULER_RUN_GRACE_SECONDS
    )
    overdue = (
        Execution.objects.filter(
            state=ExecutionState.RUNNING, started_at__lt=db_now() - overdue_after
        )
        .order_by("started_at")
        .values_list("id", flat=True)[:limit]
    )
    finished = 0
    for execution_id in overdue:
        try:
            if execution_ingest(execution_id=execution_id) is not None:
                finished += 1
        except Exception:
            logger.exception("reconciling %s failed", execution_id, extra={"action": "reconcile"})
    if finished:
        logger.warning(
            "reconciled %d executions whose webhook never came",
            finished,
            extra={"action": "reconcile"},
        )
    return finished


def executions_abort_cancelled(*, limit: int = 100) -> int:
    """Abort the Apify runs of executions an operator (or the overlap policy) cancelled."""
    aborted = 0
    pending = Execution.objects.filter(run_abort_pending=True).values_list("id", "apify_run_id")
    for execution_id, run_id in pending[:limit]:
        try:
            if run_id:
                apify.actor_run_abort(run_id)
        except Exception:
            logger.exception("aborting run %s failed", run_id, extra={"action": "reconcile"})
            continue
        with transaction.atomic():
            Execution.objects.filter(id=execution_id).update(run_abort_pending=False)
        aborted += 1
    return aborted
