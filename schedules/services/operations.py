"""Operator tools over many groups (rebalance, consolidate) and the re-run of an execution.

Each group is rebalanced in its own transaction with its audit event: a long sweep never holds
every group lock at once, and a group that was touched is always audited.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

from django.db import transaction

from access.services import audit_event_record
from businesses.models import Business
from retry.models import RetryEntry
from retry.services import retry_force
from scheduler_project.errors import ConflictError
from schedules.models import BatchStatus, Execution, ScheduleGroup, Trigger
from schedules.services.assignment import group_consolidate, group_rebalance, groups_matching
from schedules.services.batches import batch_trigger
from schedules.states import ACTIVE_STATES

EXECUTION_NOT_FINISHED = "Only a finished execution can be run again (this one is {state})."
EXECUTION_WITHOUT_BATCH = "This execution has no batch to run again."
EXECUTION_BUSINESS_GONE = "The business of this retry execution no longer exists."


@dataclass(frozen=True)
class GroupMoves:
    """What one rebalance or consolidation did to a group."""

    group: ScheduleGroup
    moved: int
    retired: int
    before: dict[str, int]  # batch index → business count, active batches
    after: dict[str, int]


def _active_counts(group: ScheduleGroup) -> dict[str, int]:
    rows = group.batches.filter(status=BatchStatus.ACTIVE).order_by("batch_index")
    return {str(index): count for index, count in rows.values_list("batch_index", "business_count")}


def _group_apply(
    *,
    group: ScheduleGroup,
    action: str,
    operation: Callable[[ScheduleGroup], tuple[int, int]],
    actor: str,
    reason: str,
) -> GroupMoves:
    with transaction.atomic():
        # Lock first so `before` is the state the operation starts from (it locks again,
        # harmlessly, in the same transaction).
        ScheduleGroup.objects.select_for_update().filter(id=group.pk).exists()
        before = _active_counts(group)
        moved, retired = operation(group)
        after = _active_counts(group)
        if moved or retired:
            audit_event_record(
                actor=actor,
                action=action,
                obj=group,
                before={"batches": before},
                after={"batches": after, "moved": moved, "retired": retired},
                reason=reason,
            )
    return GroupMoves(group=group, moved=moved, retired=retired, before=before, after=after)


def groups_rebalance(
    *,
    platform: str | None = None,
    scrape_type: str | None = None,
    interval: int | None = None,
    actor: str = "",
    reason: str = "",
) -> list[GroupMoves]:
    """Even out the active batches of every matching group; audits `group.rebalance` on
    each group where mappings moved."""
    return [
        _group_apply(
            group=group,
            action="group.rebalance",
            operation=lambda g: (group_rebalance(group=g), 0),
            actor=actor,
            reason=reason,
        )
        for group in groups_matching(platform=platform, scrape_type=scrape_type, interval=interval)
    ]


def groups_consolidate(
    *,
    platform: str | None = None,
    scrape_type: str | None = None,
    interval: int | None = None,
    actor: str = "",
    reason: str = "",
) -> list[GroupMoves]:
    """Merge under-used batches of every matching group and retire the emptied ones; audits
    `group.consolidate` on each group that changed."""
    return [
        _group_apply(
            group=group,
            action="group.consolidate",
            operation=lambda g: group_consolidate(group=g),
            actor=actor,
            reason=reason,
        )
        for group in groups_matching(platform=platform, scrape_type=scrape_type, interval=interval)
    ]


@dataclass
class Rerun:
    """A re-run: a new batch execution, or the retry entries brought forward."""

    execution: Execution | None = None
    retry_entries: list[RetryEntry] = field(default_factory=list)


@transaction.atomic
def execution_rerun(*, execution_id: UUID, actor: str = "", reason: str = "") -> Rerun:
    """Run a finished execution's work again: a batch execution triggers its batch now
    (`batch_trigger`); a retry execution forces a retry of its business for that scrape type
    (`retry_force`). Audited as `execution.retry` on the original execution."""
    execution = Execution.objects.defer("business_snapshot").get(id=execution_id)
    if execution.state in ACTIVE_STATES:
        raise ConflictError(EXECUTION_NOT_FINISHED.format(state=execution.state))
    if execution.trigger == Trigger.RETRY:
        snapshot = Execution.objects.values_list("business_snapshot", flat=True).get(
            id=execution.id
        )
        business = Business.objects.filter(id__in=[r["business_id"] for r in snapshot]).first()
        if business is None:
            raise ConflictError(EXECUTION_BUSINESS_GONE)
        rerun = Rerun(
            retry_entries=retry_force(
                business=business, actor=actor, reason=reason, scrape_types=[execution.scrape_type]
            )
        )
    else:
        if execution.batch_id is None:
            raise ConflictError(EXECUTION_WITHOUT_BATCH)
        rerun = Rerun(execution=batch_trigger(batch_id=execution.batch_id, actor=actor))
    audit_event_record(
        actor=actor,
        action="execution.retry",
        obj=execution,
        before={"state": execution.state},
        after={
            "execution_id": str(rerun.execution.id) if rerun.execution else None,
            "retry_entry_ids": [e.id for e in rerun.retry_entries],
        },
        reason=reason,
    )
    return rerun
