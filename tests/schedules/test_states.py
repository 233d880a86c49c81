"""The execution state machine: listed moves only, as compare-and-set."""

from __future__ import annotations

import pytest

from scheduler_project.dbclock import db_now
from schedules.models import Execution
from schedules.services.executions import execution_transition
from schedules.states import (
    ALLOWED_TRANSITIONS,
    TERMINAL_STATES,
    ExecutionState,
    InvalidTransition,
    check_transition,
)

S = ExecutionState


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (S.SUCCEEDED, S.RUNNING),
        (S.FAILED, S.PENDING),
        (S.RUNNING, S.PENDING),
        (S.PENDING, S.SUCCEEDED),
        (S.CANCELLED, S.STARTING),
        (S.SKIPPED, S.RUNNING),
    ],
)
def test_an_invalid_transition_raises(current: str, target: str) -> None:
    with pytest.raises(InvalidTransition, match=f"from '{current}' to '{target}'"):
        check_transition(current, target)


def test_terminal_states_have_no_way_out() -> None:
    assert {S.SUCCEEDED, S.FAILED, S.SKIPPED, S.CANCELLED} == TERMINAL_STATES
    assert set(ALLOWED_TRANSITIONS) == set(S.values)


def _execution(state: str) -> Execution:
    return Execution.objects.create(
        platform="google",
        scrape_type="reviews",
        trigger="manual",
        scheduled_for=db_now(),
        state=state,
    )


def test_a_transition_happens_once(db: None) -> None:
    execution = _execution(S.RUNNING)
    assert execution_transition(execution_id=execution.id, to=S.SUCCEEDED)
    assert not execution_transition(execution_id=execution.id, to=S.FAILED)
    execution.refresh_from_db()
    assert execution.state == S.SUCCEEDED


def test_asking_for_an_illegal_move_raises_before_writing(db: None) -> None:
    execution = _execution(S.SUCCEEDED)
    with pytest.raises(InvalidTransition):
        execution_transition(execution_id=execution.id, to=S.RUNNING, only_from=[S.SUCCEEDED])
    execution.refresh_from_db()
    assert execution.state == S.SUCCEEDED


def test_a_stale_fencing_token_matches_nothing(db: None) -> None:
    execution = _execution(S.STARTING)
    Execution.objects.filter(id=execution.id).update(start_attempts=2)
    assert not execution_transition(
        execution_id=execution.id, to=S.RUNNING, where={"start_attempts": 1}
    )
    assert execution_transition(
        execution_id=execution.id, to=S.RUNNING, where={"start_attempts": 2}
    )
