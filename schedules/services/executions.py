"""Executions: the one builder of a new one, its lease, its business snapshot, and the moves
of its state machine as compare-and-set updates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TypedDict
from uuid import UUID

from django.db import transaction

from access.services import audit_event_record
from scheduler_project import conf
from scheduler_project.bulk import BulkResult, bulk_apply
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import capacity_enqueue_admission
from scheduler_project.errors import ConflictError
from schedules.models import Batch, Execution, Trigger
from schedules.states import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    ExecutionState,
    check_transition,
    sources_of,
)

HOLDING_CAPACITY = frozenset({ExecutionState.STARTING, ExecutionState.RUNNING})
EXECUTION_NOT_ACTIVE = "Only a pending, starting or running execution can be cancelled."


class SnapshotEntry(TypedDict):
    """One business frozen onto an execution: ingest attributes items to these only."""

    business_id: int
    team_id: str
    external_id: str
    key: str  # the platform's attribution key (Business.platform_key)


def lease_expiry(now: datetime) -> datetime:
    """When a lease taken at `now` (the database clock) runs out: a start whose worker died
    is taken again after this (SCHEDULER_LEASE_SECONDS)."""
    return now + timedelta(seconds=conf.get().lease_seconds)


def execution_build(
    *,
    trigger: Trigger,
    now: datetime,
    platform: str,
    scrape_type: str,
    batch: Batch | None = None,
    batch_id: int | None = None,
    scheduled_for: datetime | None = None,
    missed_slots: int = 0,
    snapshot: list[SnapshotEntry] | None = None,
) -> Execution:
    """A new pending execution, not saved: the one place its starting fields are decided,
    for the tick (scheduled), an operator (manual) and the retry queue (retry).

    `created_at` is given (the database clock of the caller's transaction): a db_default
    would keep bulk_create off PostgreSQL's UNNEST insert and halve dispatch throughput.
    A snapshot given now (a retry's one business) is kept; otherwise the start takes it.
    """
    execution = Execution(
        batch=batch,
        platform=platform,
        scrape_type=scrape_type,
        trigger=trigger,
        scheduled_for=scheduled_for or now,
        missed_slots=missed_slots,
        lease_expires_at=lease_expiry(now),
        created_at=now,
    )
    if batch is None:
        execution.batch_id = batch_id
    if snapshot is not None:
        execution.business_snapshot = snapshot
        execution.business_count = len(snapshot)
        execution.team_counts = team_counts_of(snapshot)
    return execution


def team_counts_of(snapshot: list) -> dict[str, int]:
    """{team id: businesses} of a snapshot (cost per team reads it, not the snapshot)."""
    return dict(Counter(entry["team_id"] for entry in snapshot))


def execution_transition(
    *,
    execution_id: UUID,
    to: str,
    only_from: Iterable[str] | None = None,
    where: dict | None = None,
    **fields: object,
) -> bool:
    """Move one execution to `to` if it is still in an allowed source state.

    `only_from` narrows the sources (each must be a legal move, else InvalidTransition);
    `where` adds conditions such as a lease fencing token. Returns False when another
    process changed the row first — the caller then does nothing.
    """
    if only_from is None:
        sources = sources_of(to)
    else:
        sources = frozenset(only_from)
        for source in sources:
            check_transition(source, to)
    changed = Execution.objects.filter(id=execution_id, state__in=sources, **(where or {})).update(
        state=to, **fields
    )
    if changed and to in TERMINAL_STATES and sources & HOLDING_CAPACITY:
        capacity_enqueue_admission()  # its run's memory is free for the next waiting start
    return changed == 1


@transaction.atomic
def execution_cancel(*, execution_id: UUID, actor: str = "", reason: str = "") -> Execution:
    """Cancel an active execution; its Apify run, if any, is aborted by reconciliation."""
    execution = Execution.objects.select_for_update().get(id=execution_id)
    if execution.state not in ACTIVE_STATES:
        raise ConflictError(EXECUTION_NOT_ACTIVE)
    before = {"state": execution.state}
    execution_transition(
        execution_id=execution.id,
        to=ExecutionState.CANCELLED,
        finished_at=db_now(),
        error=f"Cancelled by {actor or 'an operator'}" + (f": {reason}" if reason else ""),
        run_abort_pending=bool(execution.apify_run_id),
        lease_expires_at=None,
    )
    execution.refresh_from_db()
    audit_event_record(
        actor=actor,
        action="execution.cancel",
        obj=execution,
        before=before,
        after={"state": execution.state},
        reason=reason,
    )
    return execution


def executions_cancel(
    *, execution_ids: Iterable[UUID], actor: str = "", reason: str = ""
) -> BulkResult[UUID, Execution]:
    """Cancel each execution through `execution_cancel`, each on its own (one audit event
    each, with the reason); one that is no longer active is refused by id, the others are
    still cancelled."""
    return bulk_apply(
        execution_ids,
        lambda execution_id: execution_cancel(
            execution_id=execution_id, actor=actor, reason=reason
        ),
    )
