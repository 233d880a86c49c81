"""Operator controls: pause with a reason, resume, trigger now."""

from __future__ import annotations

import pytest

from access.models import AuditEvent
from businesses.models import Team
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError
from schedules.models import Batch, Execution
from schedules.services import batches
from schedules.services.batches import batch_pause, batch_resume, batch_trigger
from schedules.services.dispatch import dispatch_tick
from tests.conftest import register_google


@pytest.fixture
def batch(alice: Team) -> Batch:
    (business,) = register_google(alice, scrape_types=["reviews"])
    return business.mappings.get().batch


def test_pause_records_the_reason_and_stops_dispatch(batch: Batch) -> None:
    batch_pause(batch_id=batch.id, reason="Apify quota exhausted", actor="ops")
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    assert dispatch_tick().claimed == 0
    batch.refresh_from_db()
    assert (batch.status, batch.paused_reason) == ("paused", "Apify quota exhausted")
    event = AuditEvent.objects.get(action="batch.pause")
    assert (event.actor, event.object_id, event.reason) == (
        "ops",
        str(batch.id),
        "Apify quota exhausted",
    )
    assert (event.before, event.after) == ({"status": "active"}, {"status": "paused"})


def test_pausing_twice_is_a_conflict_and_writes_nothing(batch: Batch) -> None:
    batch_pause(batch_id=batch.id)
    with pytest.raises(ConflictError, match="Only an active batch"):
        batch_pause(batch_id=batch.id, reason="again")
    assert AuditEvent.objects.filter(action="batch.pause").count() == 1


def test_resume_waits_for_the_next_slot_instead_of_a_misfire(batch: Batch) -> None:
    batch_pause(batch_id=batch.id)
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now().replace(year=2020))
    batch_resume(batch_id=batch.id, actor="ops")
    batch.refresh_from_db()
    assert batch.status == "active" and batch.next_run_at >= db_now()
    assert AuditEvent.objects.filter(action="batch.resume", actor="ops").exists()
    with pytest.raises(ConflictError):
        batch_resume(batch_id=batch.id)


def test_trigger_while_active_with_skip_policy_is_a_conflict(batch: Batch) -> None:
    batch_trigger(batch_id=batch.id)
    with pytest.raises(ConflictError, match=batches.BATCH_BUSY):
        batch_trigger(batch_id=batch.id)
    assert Execution.objects.count() == 1


def test_trigger_leaves_the_schedule_untouched(batch: Batch) -> None:
    execution = batch_trigger(batch_id=batch.id, actor="ops")
    before = batch.next_run_at
    batch.refresh_from_db()
    assert batch.next_run_at == before
    assert execution.trigger == "manual"
    assert AuditEvent.objects.get(action="batch.trigger").after == {
        "execution_id": str(execution.id)
    }
