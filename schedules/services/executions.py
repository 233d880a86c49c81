"""Moves of the execution state machine, as compare-and-set updates."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from django.db import transaction

from access.services import audit_event_record
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError
from schedules.models import Execution
from schedules.states import ACTIVE_STATES, ExecutionState, check_transition, sources_of

EXECUTION_NOT_ACTIVE = "Only a pending, starting or running execution can be cancelled."


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
