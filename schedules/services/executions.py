"""Moves of the execution state machine, as compare-and-set updates."""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from schedules.models import Execution
from schedules.states import check_transition, sources_of


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
