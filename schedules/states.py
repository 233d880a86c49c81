"""The execution state machine: every allowed move is listed here, anything else raises."""

from django.db import models

from scheduler_project.errors import ConflictError


class ExecutionState(models.TextChoices):
    PENDING = "pending"
    STARTING = "starting"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


S = ExecutionState

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    # `-> pending` from pending/starting is lease recovery: the start worker died.
    S.PENDING: frozenset({S.PENDING, S.STARTING, S.SKIPPED, S.FAILED, S.CANCELLED}),
    S.STARTING: frozenset({S.PENDING, S.RUNNING, S.SKIPPED, S.FAILED, S.CANCELLED}),
    S.RUNNING: frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED}),
    S.SUCCEEDED: frozenset(),
    S.FAILED: frozenset(),
    S.SKIPPED: frozenset(),
    S.CANCELLED: frozenset(),
}

ACTIVE_STATES = frozenset({S.PENDING, S.STARTING, S.RUNNING})
TERMINAL_STATES = frozenset(s for s, moves in ALLOWED_TRANSITIONS.items() if not moves)


class InvalidTransition(ConflictError):
    """A move the state machine does not allow: the API answers it as a conflict (409)."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"An execution cannot move from '{current}' to '{target}'.")
        self.current = current
        self.target = target


def sources_of(target: str) -> frozenset[str]:
    """The states an execution may be in to move to `target`."""
    return frozenset(s for s, moves in ALLOWED_TRANSITIONS.items() if target in moves)


def check_transition(current: str, target: str) -> None:
    if target not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition(current, target)
