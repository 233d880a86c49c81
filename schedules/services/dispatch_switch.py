"""The kill switch: stop all dispatch and starts at once, and start them again.

While paused the tick claims nothing, start tasks leave their executions pending and due
retries wait; runs already at Apify finish and are ingested as usual. Resuming publishes the
pending starts again; the batches' missed slots follow their misfire policy.
"""

from __future__ import annotations

from django.db import transaction

from access.services import audit_event_record
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import executions_enqueue_start
from scheduler_project.errors import ConflictError
from schedules.models import DispatchSwitch, Execution
from schedules.states import ExecutionState

ALREADY_PAUSED = "Dispatch is already paused."
NOT_PAUSED = "Dispatch is not paused."


def dispatch_switch_get() -> DispatchSwitch:
    """The switch as it stands (a running one when nobody has touched it yet)."""
    return DispatchSwitch.objects.filter(id=1).first() or DispatchSwitch()


def dispatch_is_paused() -> bool:
    return DispatchSwitch.objects.filter(id=1, paused=True).exists()


def _lock() -> DispatchSwitch:
    DispatchSwitch.objects.get_or_create(id=1)
    return DispatchSwitch.objects.select_for_update().get(id=1)


@transaction.atomic
def dispatch_pause(*, reason: str, actor: str = "") -> DispatchSwitch:
    switch = _lock()
    if switch.paused:
        raise ConflictError(ALREADY_PAUSED)
    switch.paused, switch.reason = True, reason
    switch.changed_by, switch.changed_at = actor or "system", db_now()
    switch.save()
    audit_event_record(
        actor=actor, action="dispatch.pause", obj=switch, reason=reason, after={"paused": True}
    )
    return switch


@transaction.atomic
def dispatch_resume(*, actor: str = "", reason: str = "") -> DispatchSwitch:
    switch = _lock()
    if not switch.paused:
        raise ConflictError(NOT_PAUSED)
    before = {"paused": True, "reason": switch.reason}
    switch.paused, switch.reason = False, ""
    switch.changed_by, switch.changed_at = actor or "system", db_now()
    switch.save()
    audit_event_record(
        actor=actor,
        action="dispatch.resume",
        obj=switch,
        reason=reason,
        before=before,
        after={"paused": False},
    )
    # The starts the pause held back: their tasks ran and left them pending.
    pending = list(
        Execution.objects.filter(state=ExecutionState.PENDING).values_list("id", flat=True)
    )
    executions_enqueue_start(pending)
    return switch
