"""Account capacity: admit starts into the Apify account's limits, in the database.

Every admission locks the one ledger row (`ApifyAccount`, id 1) and sums our in-flight
executions (starting + running, by requested memory) under that lock, so any number of
workers admit one after another and never together past the budget (SPEC §7). What does not
fit stays `pending`, marked waiting and without a lease (it is not lost: every admission and
every dispatch tick takes the queue from its head). A 402 or a 429 holds admission for a
moment and refreshes the limits; it never fails an execution.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce

from businesses.platforms import get_platform
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import capacity_enqueue_admission
from schedules import apify
from schedules.admission import (
    CAPACITY_WAIT,
    REFUSAL_HOLD,
    Budget,
    Candidate,
    InFlight,
    admit,
)
from schedules.capacity_selectors import HOLDS_CAPACITY, account_budget, capacity_overview
from schedules.models import ApifyAccount, CapacitySample, Execution, Trigger
from schedules.services.dispatch_switch import dispatch_is_paused
from schedules.services.executions import lease_expiry
from schedules.states import ExecutionState

logger = logging.getLogger(__name__)

SAMPLE_RETENTION = timedelta(days=8)


@dataclass(frozen=True)
class Admitted:
    """An execution admitted into the account: `attempt` is its start fencing token."""

    execution_id: UUID
    attempt: int


def account_ledger() -> ApifyAccount:
    account, _ = ApifyAccount.objects.get_or_create(pk=1)
    return account


def execution_release_capacity(*, execution_id: UUID) -> bool:
    """Apify says this running execution's run ended: the account freed its memory, so it
    stops counting against the budget now, before its dataset is ingested. Returns whether
    this call released it (once per run)."""
    released = Execution.objects.filter(
        id=execution_id, state=ExecutionState.RUNNING, run_ended_at__isnull=True
    ).update(run_ended_at=db_now())
    return released == 1


def in_flight() -> InFlight:
    """Our runs that hold (or are about to hold) account memory (HOLDS_CAPACITY)."""
    row = Execution.objects.filter(HOLDS_CAPACITY).aggregate(
        memory=Coalesce(Sum("requested_memory_mbytes"), 0),
        runs=Count("id"),
        retries=Count("id", filter=Q(trigger=Trigger.RETRY)),
    )
    return InFlight(memory_mbytes=row["memory"], runs=row["runs"], retries=row["retries"])


def _candidates(limit: int) -> list[Candidate]:
    """The head of the pending queue: oldest slot first, shorter interval (higher tier)
    first on ties. Rows another transaction holds (a cancel) are passed over."""
    rows = (
        Execution.objects.filter(state=ExecutionState.PENDING)
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("scheduled_for", F("batch__group__interval_minutes").asc(nulls_last=True), "id")
        .values_list("id", "platform", "scrape_type", "trigger")[:limit]
    )
    return [
        Candidate(
            key=execution_id,
            memory_mbytes=get_platform(platform).run_memory_mbytes(scrape_type),
            is_retry=trigger == Trigger.RETRY,
        )
        for execution_id, platform, scrape_type, trigger in rows
    ]


def _mark_waiting(reason: str, now, admitted: list[UUID]) -> None:
    """Everything still pending waits: no lease (it cannot expire), the reason shown."""
    Execution.objects.filter(state=ExecutionState.PENDING).exclude(id__in=admitted).exclude(
        wait_reason=reason
    ).update(
        wait_reason=reason,
        waiting_since=Coalesce("waiting_since", now),
        lease_expires_at=None,
    )


@transaction.atomic
def executions_admit(*, limit: int | None = None) -> list[Admitted]:
    """Admit the head of the pending queue while it fits; each admitted execution moves to
    `starting` with its lease, its fencing token and the memory it will request."""
    if dispatch_is_paused():
        return []
    account = _ledger_locked()
    now = db_now()
    admission_on = conf.get().capacity_admission
    budget = account_budget(account) if admission_on else Budget(memory_mbytes=None, runs=None)
    held = admission_on and account.hold_until is not None and account.hold_until > now
    settings = conf.get()
    candidates = _candidates(limit or settings.capacity_admit_chunk)
    if not candidates:
        return []
    chosen = (
        []
        if held
        else admit(
            candidates,
            budget=budget,
            in_flight=in_flight(),
            retry_share=settings.retry_capacity_share,
        )
    )
    by_memory: dict[int, list[UUID]] = {}
    for candidate in chosen:
        by_memory.setdefault(candidate.memory_mbytes, []).append(candidate.key)
    for memory, ids in by_memory.items():
        Execution.objects.filter(id__in=ids).update(
            state=ExecutionState.STARTING,
            lease_expires_at=lease_expiry(now),
            start_attempts=F("start_attempts") + 1,
            requested_memory_mbytes=memory,
            wait_reason="",
        )
    admitted_ids = [c.key for c in chosen]
    if len(chosen) < len(candidates):
        _mark_waiting(
            budget.stop_reason or (REFUSAL_HOLD if held else CAPACITY_WAIT), now, admitted_ids
        )
    attempts = dict(
        Execution.objects.filter(id__in=admitted_ids).values_list("id", "start_attempts")
    )
    return [Admitted(execution_id=i, attempt=attempts[i]) for i in admitted_ids]


def _ledger_locked() -> ApifyAccount:
    """First use: create the row (a racing creator wins, then we lock theirs)."""
    account_ledger()
    return ApifyAccount.objects.select_for_update().get(pk=1)


def account_refresh() -> ApifyAccount:
    """Read the account's limits and usage from Apify and store them with their time; on
    failure keep the last figures and record the error (shown with the limits' age)."""
    account_ledger()
    now = db_now()
    try:
        usage = apify.account_usage()
    except Exception as exc:  # Apify down or slow: admission goes on with what it knew
        logger.warning(
            "could not read the Apify account limits: %s", exc, extra={"action": "capacity"}
        )
        ApifyAccount.objects.filter(pk=1).update(
            refresh_error=f"{type(exc).__name__}: {exc}"[:1000], refresh_failed_at=now
        )
        return account_ledger()
    running = Execution.objects.filter(state=ExecutionState.RUNNING).aggregate(
        memory=Coalesce(Sum("requested_memory_mbytes"), 0), runs=Count("id")
    )
    ApifyAccount.objects.filter(pk=1).update(
        memory_limit_mbytes=usage.memory_limit_mbytes,
        runs_limit=usage.runs_limit,
        monthly_limit_usd=Decimal(str(usage.monthly_limit_usd)),
        monthly_usage_usd=Decimal(str(usage.monthly_usage_usd)),
        account_memory_mbytes=usage.memory_in_use_mbytes,
        account_runs=usage.runs_in_use,
        external_memory_mbytes=max(0, usage.memory_in_use_mbytes - running["memory"]),
        external_runs=max(0, usage.runs_in_use - running["runs"]),
        refreshed_at=now,
        refresh_error="",
    )
    return account_ledger()


def account_refresh_if_stale() -> bool:
    """Refresh when the figures are older than the refresh interval (and the last failure
    too, so an unreachable Apify is asked once per interval, not at every tick)."""
    account = account_ledger()
    every = timedelta(seconds=conf.get().capacity_refresh_seconds)
    now = db_now()
    last = max(filter(None, [account.refreshed_at, account.refresh_failed_at]), default=None)
    if last is not None and now - last < every:
        return False
    account_refresh()
    return True


def account_note_refusal(error: apify.ApifyCapacityRefused) -> None:
    """A 402 (or a 429 left after the client's retries): hold admission for a moment, count
    it, then read the account again (someone else may be using it)."""
    settings = conf.get()
    hold = (
        settings.capacity_rate_limit_hold_seconds
        if error.rate_limited
        else settings.capacity_refusal_hold_seconds
    )
    now = db_now()
    counter = "rate_limited" if error.rate_limited else "refusals"
    account_ledger()
    ApifyAccount.objects.filter(pk=1).update(
        hold_until=now + timedelta(seconds=hold),
        last_refusal=str(error)[:1000],
        last_refusal_at=now,
        **{counter: F(counter) + 1},
    )
    if not error.rate_limited:
        account_refresh()
    capacity_enqueue_admission(countdown=hold)


def capacity_sample_record() -> CapacitySample:
    """One point of the 24 h chart (one per minute; older than 8 days are dropped)."""
    overview = capacity_overview()
    now = db_now().replace(second=0, microsecond=0)
    sample, _ = CapacitySample.objects.update_or_create(
        at=now,
        defaults={
            "memory_mbytes_in_use": overview.memory_mbytes_in_use,
            "memory_mbytes_limit": overview.memory_mbytes_limit,
            "runs_in_use": overview.runs_in_use,
            "runs_limit": overview.runs_limit,
            "waiting_executions": overview.waiting_executions,
            "oldest_waiting_seconds": int(overview.oldest_waiting_seconds),
        },
    )
    CapacitySample.objects.filter(at__lt=now - SAMPLE_RETENTION).delete()
    return sample
