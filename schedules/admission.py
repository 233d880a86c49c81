"""Admission policy: which waiting starts fit the Apify account now. Pure: no database.

The service decides under a lock (schedules.services.capacity); this module only says what
fits. The queue is taken in its order (oldest slot first, higher tiers first on ties) and
stops at the first start that does not fit, so a large run at the head is never overtaken
for ever by small ones. Retries are the one exception to the order: while scheduled work
waits they take at most their share of the runs, never less than one, so neither side
starves the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CAPACITY_WAIT = "Waiting for Apify capacity"
MONTHLY_STOP = "Waiting: the Apify account's monthly usage is at its limit"
REFUSAL_HOLD = "Waiting: Apify refused a start a moment ago"


@dataclass(frozen=True)
class Budget:
    """What our runs may hold of the account now; None = no known limit."""

    memory_mbytes: int | None
    runs: int | None
    stop_reason: str = ""  # set: nothing is admitted at all


@dataclass(frozen=True)
class InFlight:
    """Our starting and running executions, by requested memory and count."""

    memory_mbytes: int = 0
    runs: int = 0
    retries: int = 0


@dataclass(frozen=True)
class Candidate:
    key: Any  # the execution id
    memory_mbytes: int
    is_retry: bool


def _lowered(limit: int | None, cap: int) -> int | None:
    if cap <= 0:
        return limit
    return cap if limit is None else min(limit, cap)


def budget_of(
    *,
    memory_limit_mbytes: int | None,
    runs_limit: int | None,
    external_memory_mbytes: int,
    external_runs: int,
    memory_cap_mbytes: int,
    runs_cap: int,
    monthly_limit_usd: Decimal | None,
    monthly_usage_usd: Decimal | None,
    monthly_headroom_usd: float,
) -> Budget:
    """The account's limits minus what runs started elsewhere hold, lowered by our own caps
    (APIFY_MAX_MEMORY_MBYTES / APIFY_MAX_CONCURRENT_RUNS, 0 = none)."""
    memory = None if memory_limit_mbytes is None else memory_limit_mbytes - external_memory_mbytes
    runs = None if runs_limit is None else runs_limit - external_runs
    budget_memory = _lowered(memory, memory_cap_mbytes)
    budget_runs = _lowered(runs, runs_cap)
    stop = ""
    if (
        monthly_limit_usd is not None
        and monthly_usage_usd is not None
        and monthly_usage_usd >= monthly_limit_usd - Decimal(str(monthly_headroom_usd))
    ):
        stop = (
            f"{MONTHLY_STOP} (used {monthly_usage_usd:.2f} of {monthly_limit_usd:.2f} USD, "
            f"headroom {monthly_headroom_usd:.2f} USD)"
        )
    return Budget(
        memory_mbytes=None if budget_memory is None else max(budget_memory, 0),
        runs=None if budget_runs is None else max(budget_runs, 0),
        stop_reason=stop,
    )


def retry_cap(budget: Budget, share: float) -> int | None:
    """The most runs retries may hold while scheduled work waits: at least one."""
    if budget.runs is None:
        return None
    return max(1, int(budget.runs * share))


def _fits(budget: Budget, memory: int, runs: int) -> bool:
    return (budget.memory_mbytes is None or memory <= budget.memory_mbytes) and (
        budget.runs is None or runs <= budget.runs
    )


def admit(
    candidates: Sequence[Candidate],
    *,
    budget: Budget,
    in_flight: InFlight = InFlight(),
    retry_share: float = 0.25,
) -> list[Candidate]:
    """The candidates, in queue order, that start now."""
    if budget.stop_reason:
        return []
    cap = retry_cap(budget, retry_share)
    scheduled_waiting = any(not c.is_retry for c in candidates)
    memory, runs, retries = in_flight.memory_mbytes, in_flight.runs, in_flight.retries
    chosen: list[Candidate] = []
    for candidate in candidates:
        if candidate.is_retry and scheduled_waiting and cap is not None and retries >= cap:
            continue  # over the retries' share: the scheduled work behind goes first
        if not _fits(budget, memory + candidate.memory_mbytes, runs + 1):
            break
        memory, runs = memory + candidate.memory_mbytes, runs + 1
        retries += candidate.is_retry
        chosen.append(candidate)
    return chosen
