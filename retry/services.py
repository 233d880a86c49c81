"""The per-business retry queue: record outcomes, run due retries, force, clean up.

Timing lives in `next_attempt_at` (database clock), never in Celery countdowns: a retry
survives any worker or broker restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Now

from access.services import audit_event_record
from businesses.models import Business
from retry.models import OPEN_RETRY_STATES, RetryEntry, RetryState
from retry.policies import next_attempt_delay
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError
from schedules.models import Execution, Mapping, Trigger
from schedules.services.enqueue import executions_enqueue_start

logger = logging.getLogger(__name__)

RETRY_RUNNING = "A retry of this business is running now."
BUSINESS_INACTIVE = "The business was deactivated before its retry."
RETRY_BUSINESS_INACTIVE = "An inactive business is not scraped: activate it before retrying."
RETRY_NOT_SCHEDULED = "The business is no longer scheduled for this scrape type."


def _delay(attempts_done: int) -> timedelta | None:
    return next_attempt_delay(
        attempts_done=attempts_done,
        delays_minutes=settings.SCHEDULER_RETRY_DELAYS_MINUTES,
        max_attempts=settings.SCHEDULER_RETRY_MAX_ATTEMPTS,
    )


def retry_entries_record(
    *, execution: Execution, succeeded: Iterable[int], failed: dict[int, str]
) -> None:
    """Fold one finished execution into the queue (inside the caller's transaction).

    Success closes the business's open entry. A failure opens an entry (first retry after
    the first delay); the failure of the entry's own retry run backs off or, after the
    last attempt, makes it `dead`. Other open entries are left to run their course.
    """
    now = db_now()
    scrape_type = execution.scrape_type
    RetryEntry.objects.filter(
        business_id__in=list(succeeded), scrape_type=scrape_type, state__in=OPEN_RETRY_STATES
    ).update(state=RetryState.SUCCEEDED, last_execution=execution, updated_at=now)
    if not failed:
        return
    open_entries = {
        e.business_id: e
        for e in RetryEntry.objects.select_for_update().filter(
            business_id__in=list(failed), scrape_type=scrape_type, state__in=OPEN_RETRY_STATES
        )
    }
    new, changed = [], []
    for business_id, error in failed.items():
        entry = open_entries.get(business_id)
        if entry is None:
            delay = _delay(0)
            new.append(
                RetryEntry(
                    business_id=business_id,
                    scrape_type=scrape_type,
                    last_error=error,
                    last_execution=execution,
                    state=RetryState.PENDING if delay is not None else RetryState.DEAD,
                    next_attempt_at=now + delay if delay is not None else None,
                )
            )
            continue
        entry.last_error, entry.updated_at = error, now
        if entry.last_execution_id == execution.id and entry.state == RetryState.RUNNING:
            delay = _delay(entry.attempts)
            entry.state = RetryState.PENDING if delay is not None else RetryState.DEAD
            entry.next_attempt_at = now + delay if delay is not None else None
        changed.append(entry)
    existing = set(
        Business.objects.filter(id__in=[e.business_id for e in new]).values_list("id", flat=True)
    )
    RetryEntry.objects.bulk_create([e for e in new if e.business_id in existing])
    RetryEntry.objects.bulk_update(
        changed, ["last_error", "updated_at", "state", "next_attempt_at"]
    )


@transaction.atomic
def retry_entries_process_due(*, limit: int = 200) -> list:
    """Start a single-business run for each due entry; returns the executions created.

    Claimed with SKIP LOCKED, so several processors never start the same retry twice.
    """
    due = list(
        RetryEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state=RetryState.PENDING, next_attempt_at__lte=Now())
        .select_related("business")
        .order_by("next_attempt_at")[:limit]
    )
    if not due:
        return []
    now = db_now()
    batches = dict(
        Mapping.objects.filter(
            Q(
                *[Q(business_id=e.business_id, scrape_type=e.scrape_type) for e in due],
                _connector=Q.OR,
            )
        ).values_list("business_id", "batch_id")
    )
    lease_until = now + timedelta(seconds=settings.SCHEDULER_LEASE_SECONDS)
    executions, to_start = [], []
    for entry in due:
        business = entry.business
        if not business.active:
            entry.state, entry.last_error, entry.next_attempt_at = (
                RetryState.DEAD,
                BUSINESS_INACTIVE,
                None,
            )
            continue
        execution = Execution(
            batch_id=batches.get(business.id),
            platform=business.platform,
            scrape_type=entry.scrape_type,
            trigger=Trigger.RETRY,
            scheduled_for=now,
            created_at=now,  # explicit: keeps bulk_create on PostgreSQL's UNNEST insert
            lease_expires_at=lease_until,
            business_snapshot=[
                {
                    "business_id": business.id,
                    "team_id": business.team_id,
                    "external_id": business.external_id,
                    "key": business.platform_key,
                }
            ],
            business_count=1,
        )
        executions.append(execution)
        to_start.append(execution.id)
        entry.state, entry.attempts, entry.last_execution = (
            RetryState.RUNNING,
            entry.attempts + 1,
            execution,
        )
    for entry in due:
        entry.updated_at = now
    Execution.objects.bulk_create(executions)
    RetryEntry.objects.bulk_update(
        due, ["state", "attempts", "last_execution", "last_error", "next_attempt_at", "updated_at"]
    )
    executions_enqueue_start(to_start)
    logger.info("started %d retries", len(to_start), extra={"action": "retry"})
    return to_start


@transaction.atomic
def retry_force(
    *,
    business: Business,
    actor: str = "",
    reason: str = "",
    scrape_types: Sequence[str] | None = None,
) -> list[RetryEntry]:
    """Retry a business now, for each of its scrape types (or the given ones): a pending
    entry is brought forward; without an open entry (none yet, or only dead ones) a fresh
    one is opened. An inactive business, or a running retry, is a conflict."""
    if not business.active:
        raise ConflictError(RETRY_BUSINESS_INACTIVE)
    chosen = [st for st in business.scrape_types if scrape_types is None or st in scrape_types]
    if not chosen:
        raise ConflictError(RETRY_NOT_SCHEDULED)
    now = db_now()
    entries = []
    for scrape_type in chosen:
        entry = (
            RetryEntry.objects.select_for_update()
            .filter(business=business, scrape_type=scrape_type, state__in=OPEN_RETRY_STATES)
            .first()
        )
        if entry and entry.state == RetryState.RUNNING:
            raise ConflictError(RETRY_RUNNING)
        before = {"state": entry.state, "attempts": entry.attempts} if entry else None
        if entry is None:
            entry = RetryEntry(business=business, scrape_type=scrape_type, last_error=reason)
        entry.state, entry.next_attempt_at = RetryState.PENDING, now
        entry.save()
        audit_event_record(
            actor=actor,
            action="retry.force",
            obj=entry,
            before=before,
            reason=reason,
            after={"state": entry.state, "attempts": entry.attempts},
        )
        entries.append(entry)
    return entries


def retry_entries_cleanup(*, retention: timedelta | None = None) -> int:
    """Delete closed entries (succeeded, dead) untouched for the retention period."""
    retention = retention or timedelta(days=settings.SCHEDULER_RETRY_RETENTION_DAYS)
    deleted, _ = RetryEntry.objects.filter(
        state__in=[RetryState.SUCCEEDED, RetryState.DEAD], updated_at__lt=db_now() - retention
    ).delete()
    return deleted
