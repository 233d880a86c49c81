"""Nothing stays stuck: process callbacks whose message was lost, finish runs whose webhook
never came, abort runs nobody wants."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import connection, transaction
from django.db.models import Q

from access.services import audit_event_record
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import callbacks_enqueue_processing_now, capacity_enqueue_admission
from schedules import apify
from schedules.models import Batch, Execution
from schedules.services.ingest import execution_ingest
from schedules.states import ExecutionState
from schedules.validation import CheckResult, Scope, repair
from schedules.validation.checks import check_next_run
from webhooks.models import WebhookEvent, WebhookStatus

logger = logging.getLogger(__name__)


def webhook_events_requeue_stale(*, limit: int = 500) -> int:
    """Enqueue again the callbacks whose processing was lost: still `received` after
    SCHEDULER_WEBHOOK_REQUEUE_SECONDS (the message died with a broker restart, or was never
    published), or `failed` (the ingest was cut off: a lost database connection, an Apify
    that answered badly). A failed one whose execution another path has finished since is
    settled as processed by that second go, instead of showing a failure that is not one.

    Processing twice is harmless (one ingest per run), so this may race the original message.
    Without it, such a run would wait for reconciliation: the run timeout plus grace.
    """
    stale_before = db_now() - timedelta(seconds=conf.get().webhook_requeue_seconds)
    lost = Q(status=WebhookStatus.RECEIVED, received_at__lt=stale_before)
    cut_off = Q(status=WebhookStatus.FAILED, processed_at__lt=stale_before)
    event_ids = list(
        WebhookEvent.objects.filter(lost | cut_off)
        .order_by("received_at")
        .values_list("id", flat=True)[:limit]
    )
    callbacks_enqueue_processing_now(event_ids)
    if event_ids:
        logger.warning(
            "re-enqueued %d webhook events whose processing was lost",
            len(event_ids),
            extra={"action": "webhook"},
        )
    return len(event_ids)


def executions_reconcile(*, limit: int = 100) -> int:
    """Ask Apify about executions still running past the run timeout plus grace, and finish
    them through the webhook's own ingest path. One whose dataset still cannot be read whole
    after that window once more is finished as failed (its businesses are retried), so
    nothing stays running on an Apify that keeps answering badly. Returns how many were
    finished."""
    overdue_after = timedelta(seconds=conf.get().run_timeout_seconds + conf.get().run_grace_seconds)
    now = db_now()
    overdue = (
        Execution.objects.filter(state=ExecutionState.RUNNING, started_at__lt=now - overdue_after)
        .order_by("started_at")
        .values_list("id", "started_at")[:limit]
    )
    finished = 0
    for execution_id, started_at in overdue:
        give_up = started_at < now - 2 * overdue_after
        try:
            if execution_ingest(execution_id=execution_id, give_up_unreadable=give_up):
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
    if aborted:
        capacity_enqueue_admission()  # the aborted runs' memory is free
    return aborted


NEXT_RUN_REPAIR = "batch.next_run_repair"


def batches_repair_next_runs() -> int:
    """A `next_run_at` set far ahead (a bad edit, a clock jump) silently stops a batch; the
    reconcile tick finds them with validate's `next_run_at` check and moves each to the next
    slot of its grid, as `validate_global_schedules --fix` does. Each move is an audit event
    (what it was, where it went), which the metrics count. Returns how many."""
    if connection.vendor != "postgresql":
        return 0  # the check's SQL is PostgreSQL's, like the rest of validation
    with transaction.atomic():
        findings = check_next_run(Scope())
        if not findings:
            return 0
        repair([CheckResult("next_run_at", "next_run_at set and sane", findings)], Scope())
        for finding, batch in zip(
            findings,
            Batch.objects.filter(id__in=[f.ids["batch"] for f in findings]).order_by("id"),
            strict=True,
        ):
            audit_event_record(
                actor="system:reconcile",
                action=NEXT_RUN_REPAIR,
                obj=batch,
                before={"problem": finding.message},
                after={"next_run_at": batch.next_run_at.isoformat()},
            )
    logger.warning(
        "moved %d batches whose next run was out of range back to their grid",
        len(findings),
        extra={"action": "reconcile"},
    )
    return len(findings)
