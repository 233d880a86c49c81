"""Operator controls on a batch: pause, resume, trigger now."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Now

from access.services import audit_event_record
from scheduler_project.bulk import BulkResult, bulk_apply
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import executions_enqueue_start
from scheduler_project.errors import ConflictError
from schedules.models import Batch, BatchStatus, Execution, MisfirePolicy, OverlapPolicy, Trigger
from schedules.policies import first_slot_at_or_after
from schedules.services.executions import execution_build
from schedules.states import ACTIVE_STATES

BATCH_NOT_ACTIVE = "Only an active batch can be paused (this one is {status})."
BATCH_NOT_PAUSED = "Only a paused batch can be resumed (this one is {status})."
BATCH_RETIRED = "A retired batch cannot be triggered."
PAUSE_UNTIL_PAST = "A pause must end in the future."
PAUSE_ENDED = "The pause reached its end (paused_until)."
BATCH_BUSY = "The batch already has an active execution and its overlap policy is 'skip'."


def _lock(batch_id: int) -> Batch:
    return Batch.objects.select_for_update(of=("self",)).select_related("group").get(id=batch_id)


@transaction.atomic
def batch_pause(
    *, batch_id: int, reason: str = "", actor: str = "", until: datetime | None = None
) -> Batch:
    """Stop dispatching a batch; with `until`, the tick resumes it by itself then."""
    if until is not None and until <= db_now():
        raise ValidationError({"until": [PAUSE_UNTIL_PAST]})
    batch = _lock(batch_id)
    if batch.status != BatchStatus.ACTIVE:
        raise ConflictError(BATCH_NOT_ACTIVE.format(status=batch.status))
    batch.status, batch.paused_reason, batch.paused_until = BatchStatus.PAUSED, reason, until
    batch.save(update_fields=["status", "paused_reason", "paused_until", "updated_at"])
    audit_event_record(
        actor=actor,
        action="batch.pause",
        obj=batch,
        reason=reason,
        before={"status": BatchStatus.ACTIVE},
        after={"status": BatchStatus.PAUSED, **({"until": until.isoformat()} if until else {})},
    )
    return batch


@transaction.atomic
def batch_resume(*, batch_id: int, actor: str = "", reason: str = "") -> Batch:
    """Resume at the batch's next slot: the time spent paused is not a misfire."""
    batch = _lock(batch_id)
    if batch.status != BatchStatus.PAUSED:
        raise ConflictError(BATCH_NOT_PAUSED.format(status=batch.status))
    _resume(batch, actor=actor, reason=reason)
    return batch


def batches_pause(
    *, batch_ids: Iterable[int], reason: str, actor: str = ""
) -> BulkResult[int, Batch]:
    """Pause each batch through `batch_pause`, each on its own (one audit event each, with
    the reason); a batch that is not active is refused by id, the others still pause."""
    return bulk_apply(
        batch_ids, lambda batch_id: batch_pause(batch_id=batch_id, reason=reason, actor=actor)
    )


def batches_resume(
    *, batch_ids: Iterable[int], reason: str = "", actor: str = ""
) -> BulkResult[int, Batch]:
    """Resume each batch through `batch_resume`, as `batches_pause` pauses them."""
    return bulk_apply(
        batch_ids, lambda batch_id: batch_resume(batch_id=batch_id, reason=reason, actor=actor)
    )


def _resume(batch: Batch, *, actor: str, reason: str = "") -> None:
    before = {"status": batch.status, "paused_reason": batch.paused_reason}
    batch.status, batch.paused_reason, batch.paused_until = BatchStatus.ACTIVE, "", None
    batch.next_run_at = max(batch.next_run_at, first_slot_at_or_after(batch.grid(), db_now()))
    batch.save(
        update_fields=["status", "paused_reason", "paused_until", "next_run_at", "updated_at"]
    )
    audit_event_record(
        actor=actor,
        action="batch.resume",
        obj=batch,
        before=before,
        reason=reason,
        after={"status": batch.status, "next_run_at": batch.next_run_at.isoformat()},
    )


@transaction.atomic
def batches_resume_due_pauses(*, limit: int = 500) -> int:
    """Resume the paused batches whose `paused_until` has come (the tick calls this)."""
    due = (
        Batch.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("group")
        .filter(status=BatchStatus.PAUSED, paused_until__lte=Now())
        .order_by("paused_until")[:limit]
    )
    count = 0
    for batch in due:
        _resume(batch, actor="system", reason=PAUSE_ENDED)
        count += 1
    return count


@transaction.atomic
def batch_policies_set(
    *, batch_id: int, misfire_policy: str, overlap_policy: str, actor: str = ""
) -> Batch:
    """Change how a batch treats missed slots and overlapping runs (audited)."""
    if misfire_policy not in MisfirePolicy.values:
        raise ValidationError({"misfire_policy": [f"One of {', '.join(MisfirePolicy.values)}."]})
    if overlap_policy not in OverlapPolicy.values:
        raise ValidationError({"overlap_policy": [f"One of {', '.join(OverlapPolicy.values)}."]})
    batch = _lock(batch_id)
    before = {"misfire_policy": batch.misfire_policy, "overlap_policy": batch.overlap_policy}
    batch.misfire_policy, batch.overlap_policy = misfire_policy, overlap_policy
    batch.save(update_fields=["misfire_policy", "overlap_policy", "updated_at"])
    audit_event_record(
        actor=actor,
        action="batch.policies",
        obj=batch,
        before=before,
        after={"misfire_policy": misfire_policy, "overlap_policy": overlap_policy},
    )
    return batch


@transaction.atomic
def batch_trigger(*, batch_id: int, actor: str = "") -> Execution:
    """Run a batch now, outside its schedule, through the same start path as the tick.

    Its slot is untouched: the next scheduled run still happens.
    """
    batch = _lock(batch_id)
    if batch.status == BatchStatus.RETIRED:
        raise ConflictError(BATCH_RETIRED)
    busy = Execution.objects.filter(batch=batch, state__in=ACTIVE_STATES).exists()
    if busy and batch.overlap_policy == OverlapPolicy.SKIP:
        raise ConflictError(BATCH_BUSY)
    now = db_now()
    execution = execution_build(
        trigger=Trigger.MANUAL,
        now=now,
        batch=batch,
        platform=batch.group.platform,
        scrape_type=batch.group.scrape_type,
    )
    execution.save()
    audit_event_record(
        actor=actor, action="batch.trigger", obj=batch, after={"execution_id": str(execution.id)}
    )
    executions_enqueue_start([execution.id])
    return execution
