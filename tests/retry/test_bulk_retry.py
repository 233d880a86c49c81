"""Retrying many entries of the queue at once (`retry_entries_force`): through `retry_force`
for each (one `retry.force` audit event each, with the reason); closed, replaced and running
entries are refused by id and the others are retried all the same."""

from __future__ import annotations

from datetime import timedelta

from access.models import AuditEvent
from businesses.models import Business, Team
from retry.models import RetryEntry, RetryState
from retry.services import (
    RETRY_BUSINESS_INACTIVE,
    RETRY_ENTRY_REPLACED,
    RETRY_ENTRY_SUCCEEDED,
    RETRY_RUNNING,
    retry_entries_force,
)
from scheduler_project.dbclock import db_now
from tests.conftest import register_google


def _entry(business: Business, state: str, **fields: object) -> RetryEntry:
    return RetryEntry.objects.create(
        business=business, scrape_type="reviews", state=state, attempts=3, **fields
    )


def test_dead_entries_reopen_pending_ones_come_forward_and_closed_ones_are_refused(
    alice: Team,
) -> None:
    dead_b, pending_b, done_b, running_b, replaced_b, inactive_b = register_google(alice, 6)
    dead = _entry(dead_b, RetryState.DEAD, last_error="TIMED-OUT")
    later = db_now() + timedelta(hours=1)
    pending = _entry(pending_b, RetryState.PENDING, next_attempt_at=later)
    succeeded = _entry(done_b, RetryState.SUCCEEDED)
    running = _entry(running_b, RetryState.RUNNING)
    old_dead = _entry(replaced_b, RetryState.DEAD)
    newer = _entry(replaced_b, RetryState.PENDING, next_attempt_at=later)
    inactive = _entry(inactive_b, RetryState.DEAD)
    Business.objects.filter(id=inactive_b.id).update(active=False)
    ids = [dead.id, pending.id, succeeded.id, running.id, old_dead.id, inactive.id]

    result = retry_entries_force(entry_ids=ids, reason="actor fixed", actor="operator")

    assert [(r.key, r.message) for r in result.refused] == [
        (succeeded.id, RETRY_ENTRY_SUCCEEDED),
        (running.id, RETRY_RUNNING),
        (old_dead.id, RETRY_ENTRY_REPLACED.format(newer=newer.id)),
        (inactive.id, RETRY_BUSINESS_INACTIVE),
    ]
    fresh, forward = result.done
    assert fresh.id != dead.id and (fresh.business_id, fresh.state) == (dead_b.id, "pending")
    assert fresh.next_attempt_at <= db_now()
    assert forward.id == pending.id
    pending.refresh_from_db()
    assert pending.next_attempt_at <= db_now()
    dead.refresh_from_db()
    assert dead.state == RetryState.DEAD  # the history stays
    newer.refresh_from_db()
    assert newer.next_attempt_at == later  # a refused one changes nothing
    events = AuditEvent.objects.filter(action="retry.force")
    assert sorted(e.object_id for e in events) == sorted([str(fresh.id), str(pending.id)])
    assert {(e.actor, e.reason) for e in events} == {("operator", "actor fixed")}


def test_an_unknown_entry_is_refused_by_id(alice: Team) -> None:
    (business,) = register_google(alice)
    dead = _entry(business, RetryState.DEAD)
    result = retry_entries_force(entry_ids=[999_999, dead.id], reason="r", actor="x")
    assert [(r.key, r.message) for r in result.refused] == [(999_999, "It no longer exists.")]
    assert len(result.done) == 1
    assert AuditEvent.objects.filter(action="retry.force").count() == 1
