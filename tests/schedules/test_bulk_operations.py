"""Bulk pause / resume of batches and bulk cancel of executions: each object through its
single-object service (one audit event each, with the reason); a refusal is reported by id
and never undoes the others."""

from __future__ import annotations

import uuid

import pytest

from access.models import AuditEvent
from businesses.models import Team
from businesses.services import team_upsert
from schedules.models import Batch, BatchStatus, Execution
from schedules.services.batches import (
    BATCH_NOT_ACTIVE,
    BATCH_NOT_PAUSED,
    batch_pause,
    batches_pause,
    batches_resume,
)
from schedules.services.executions import EXECUTION_NOT_ACTIVE, executions_cancel
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.dashboard.test_executions import finished_execution, triggered_execution


@pytest.fixture
def three_batches(alice: Team, bob: Team) -> list[Batch]:
    """The google reviews and overview batches of alice (12 h) and bob's reviews (daily)."""
    register_google(alice)
    register_google(bob, scrape_types=["reviews"])
    batches = list(Batch.objects.filter(business_count__gt=0).order_by("id"))
    assert len(batches) == 3
    return batches


def test_pausing_many_refuses_the_paused_one_by_id_and_pauses_the_others(
    three_batches: list[Batch],
) -> None:
    first, second, third = three_batches
    batch_pause(batch_id=second.id, reason="earlier", actor="ops")
    missing = 999_999

    result = batches_pause(
        batch_ids=[first.id, second.id, third.id, missing, first.id],
        reason="Apify maintenance",
        actor="operator",
    )

    assert [b.id for b in result.done] == [first.id, third.id]  # each id once, in order
    assert [(r.key, r.message) for r in result.refused] == [
        (second.id, BATCH_NOT_ACTIVE.format(status="paused")),
        (missing, "It no longer exists."),
    ]
    statuses = dict(Batch.objects.values_list("id", "status"))
    assert statuses[first.id] == statuses[third.id] == BatchStatus.PAUSED
    events = AuditEvent.objects.filter(action="batch.pause", actor="operator")
    assert sorted(int(e.object_id) for e in events) == [first.id, third.id]
    assert {e.reason for e in events} == {"Apify maintenance"}
    assert Batch.objects.get(id=second.id).paused_reason == "earlier"  # untouched


def test_resuming_many_records_the_reason_on_each(three_batches: list[Batch]) -> None:
    first, second, third = three_batches
    batches_pause(batch_ids=[first.id, second.id], reason="night", actor="ops")

    result = batches_resume(
        batch_ids=[first.id, second.id, third.id], reason="morning", actor="operator"
    )

    assert [b.id for b in result.done] == [first.id, second.id]
    assert [(r.key, r.message) for r in result.refused] == [
        (third.id, BATCH_NOT_PAUSED.format(status="active"))
    ]
    events = AuditEvent.objects.filter(action="batch.resume")
    assert sorted(int(e.object_id) for e in events) == [first.id, second.id]
    assert {(e.actor, e.reason) for e in events} == {("operator", "morning")}
    assert set(Batch.objects.values_list("status", flat=True)) == {BatchStatus.ACTIVE}


@pytest.mark.django_db(transaction=True)
def test_a_refusal_does_not_undo_the_committed_others() -> None:
    """Outside any test transaction: each object commits on its own."""
    active = triggered_execution(team_id="alice", businesses=1)
    other = finished_execution(active.batch, minutes_ago=2, state=ExecutionState.RUNNING)
    done = finished_execution(active.batch, minutes_ago=5, state=ExecutionState.SUCCEEDED)

    result = executions_cancel(
        execution_ids=[active.id, done.id, other.id], reason="wrong account", actor="operator"
    )

    assert [e.id for e in result.done] == [active.id, other.id]
    assert [(r.key, r.message) for r in result.refused] == [(done.id, EXECUTION_NOT_ACTIVE)]
    states = dict(Execution.objects.values_list("id", "state"))
    assert states[active.id] == states[other.id] == ExecutionState.CANCELLED
    assert states[done.id] == ExecutionState.SUCCEEDED
    events = AuditEvent.objects.filter(action="execution.cancel")
    assert sorted(e.object_id for e in events) == sorted([str(active.id), str(other.id)])
    assert {(e.actor, e.reason) for e in events} == {("operator", "wrong account")}


def test_an_unknown_execution_is_refused_by_id(db) -> None:
    team_upsert(team_id="alice", tier="free")
    unknown = uuid.uuid4()
    result = executions_cancel(execution_ids=[unknown], reason="r", actor="x")
    assert result.done == []
    assert [(r.key, r.message) for r in result.refused] == [(unknown, "It no longer exists.")]
    assert not AuditEvent.objects.exists()
