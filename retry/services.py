"""The per-business retry queue: record outcomes, claim due entries, force, clean up.

Timing lives in `next_attempt_at` (database clock), never in Celery countdowns: a retry
survives any worker or broker restart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models.functions import Now

from access.services import audit_event_record
from businesses.locks import business_lock
from businesses.models import Business
from notifications.models import EventType
from notifications.services.events import Event, events_publish
from retry.models import OPEN_RETRY_STATES, RetryEntry, RetryState
from retry.policies import next_attempt_delay
from scheduler_project import conf
from scheduler_project.bulk import BulkResult, bulk_apply
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError

if TYPE_CHECKING:  # the queue points at executions; it never builds or starts them
    from schedules.models import Execution

logger = logging.getLogger(__name__)

RETRY_RUNNING = "A retry of this business is running now."
BUSINESS_INACTIVE = "The business was deactivated before its retry."
RETRY_BUSINESS_INACTIVE = "An inactive business is not scraped: activate it before retrying."
RETRY_NOT_SCHEDULED = "The business is no longer scheduled for this scrape type."
RETRY_ENTRY_SUCCEEDED = "This entry succeeded: it is closed and has nothing to retry."
RETRY_ENTRY_REPLACED = "A newer entry (#{newer}) replaced this one: retry that one instead."


def _delay(attempts_done: int) -> timedelta | None:
    return next_attempt_delay(
        attempts_done=attempts_done,
        delays_minutes=conf.get().retry_delays_minutes,
        max_attempts=conf.get().retry_max_attempts,
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
                    batch_id=execution.batch_id,
                    state=RetryState.PENDING if delay is not None else RetryState.DEAD,
                    next_attempt_at=now + delay if delay is not None else None,
                )
            )
            continue
        entry.last_error, entry.updated_at = error, now
        entry.batch_id = execution.batch_id or entry.batch_id
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
        changed, ["last_error", "updated_at", "state", "next_attempt_at", "batch"]
    )
    dead = [e for e in new if e.business_id in existing] + changed
    events_publish(_failed_events(execution, [e for e in dead if e.state == RetryState.DEAD]))


def _failed_events(execution: Execution, dead: list[RetryEntry]) -> list[Event]:
    """`business.failed` for each business whose retries are exhausted."""
    teams = {entry["business_id"]: entry["team_id"] for entry in execution.business_snapshot}
    return [
        Event(
            event_type=EventType.BUSINESS_FAILED,
            team_id=teams.get(entry.business_id, ""),
            data={
                "business_id": entry.business_id,
                "team_id": teams.get(entry.business_id, ""),
                "platform": execution.platform,
                "scrape_type": entry.scrape_type,
                "attempts": entry.attempts,
                "error": entry.last_error,
                "execution_id": str(execution.id),
            },
        )
        for entry in dead
    ]


def retry_entries_claim_due(*, limit: int = 200) -> list[RetryEntry]:
    """Lock the pending entries whose time has come (oldest first), inside the caller's
    transaction; SKIP LOCKED leaves the ones another processor holds to it."""
    return list(
        RetryEntry.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(state=RetryState.PENDING, next_attempt_at__lte=Now())
        .select_related("business")
        .order_by("next_attempt_at")[:limit]
    )


def retry_entries_mark_started(
    *, entries: Sequence[RetryEntry], executions: dict[int, Execution], now: datetime
) -> None:
    """Record the claimed entries' fate: running with their new execution (entry id →
    execution), or dead when their business was deactivated meanwhile."""
    for entry in entries:
        execution = executions.get(entry.id)
        if execution is None:
            entry.state, entry.last_error, entry.next_attempt_at = (
                RetryState.DEAD,
                BUSINESS_INACTIVE,
                None,
            )
        else:
            entry.state, entry.attempts, entry.last_execution = (
                RetryState.RUNNING,
                entry.attempts + 1,
                execution,
            )
            entry.batch_id = execution.batch_id or entry.batch_id
        entry.updated_at = now
    RetryEntry.objects.bulk_update(
        entries,
        [
            "state",
            "attempts",
            "last_execution",
            "batch",
            "last_error",
            "next_attempt_at",
            "updated_at",
        ],
    )


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
    one is opened. An inactive business, or a running retry, is a conflict.

    The team and the business are locked first (businesses/locks.py): parallel forces of
    one business queue up and each sees the entry the previous one opened."""
    business = business_lock(business)
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


def retry_entries_force(
    *, entry_ids: Iterable[int], actor: str = "", reason: str = ""
) -> BulkResult[int, RetryEntry]:
    """Retry each entry's business now, for the entry's scrape type, through `retry_force`
    (one `retry.force` audit event each, with the reason): a pending entry is brought
    forward, a dead one gets a fresh pending entry (the dead one stays as history).

    Refused by entry id, without undoing the others: a succeeded entry (closed), one a newer
    entry of the same business and scrape type replaced, a running retry, an inactive
    business."""

    def force(entry_id: int) -> RetryEntry:
        entry = RetryEntry.objects.select_related("business").get(id=entry_id)
        if entry.state == RetryState.SUCCEEDED:
            raise ConflictError(RETRY_ENTRY_SUCCEEDED)
        newer = (
            RetryEntry.objects.filter(
                business_id=entry.business_id, scrape_type=entry.scrape_type, id__gt=entry.id
            )
            .order_by("-id")
            .values_list("id", flat=True)
            .first()
        )
        if newer is not None:
            raise ConflictError(RETRY_ENTRY_REPLACED.format(newer=newer))
        (forced,) = retry_force(
            business=entry.business,
            actor=actor,
            reason=reason,
            scrape_types=[entry.scrape_type],
        )
        return forced

    return bulk_apply(entry_ids, force)


def retry_entries_cleanup(*, retention: timedelta | None = None) -> int:
    """Delete closed entries (succeeded, dead) untouched for the retention period."""
    retention = retention or timedelta(days=conf.get().retry_retention_days)
    deleted, _ = RetryEntry.objects.filter(
        state__in=[RetryState.SUCCEEDED, RetryState.DEAD], updated_at__lt=db_now() - retention
    ).delete()
    return deleted
