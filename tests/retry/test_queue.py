"""The retry queue with controlled time: 5, 15, 45 minutes, then dead; success closes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from access.models import AuditEvent
from businesses.models import Business, Team
from retry.models import RetryEntry
from retry.services import (
    RETRY_RUNNING,
    retry_entries_cleanup,
    retry_force,
)
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError
from schedules.models import Execution
from schedules.services.batches import batch_trigger
from schedules.services.execution_start import execution_start
from schedules.services.ingest import execution_ingest
from schedules.services.retry_runs import retry_runs_start_due
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.schedules.test_ingest import review, start_batch_of


def _time_passes_until_due(entry: RetryEntry) -> timedelta:
    """Controlled time: move the entry's due moment to now; return how far ahead it was."""
    entry.refresh_from_db()
    ahead = entry.next_attempt_at - db_now()
    RetryEntry.objects.filter(id=entry.id).update(next_attempt_at=db_now())
    return ahead


def _run_retry(fake: FakeApify, status: str, items: list[dict]) -> Execution:
    (execution_id,) = retry_runs_start_due()
    assert execution_start(execution_id=execution_id) == ExecutionState.RUNNING
    execution = Execution.objects.get(id=execution_id)
    fake.finish_run(execution.apify_run_id, status, items, deliver_webhooks=False)
    execution_ingest(execution_id=execution_id)
    return execution


def _fail_first_run(fake: FakeApify, business: Business) -> RetryEntry:
    execution = start_batch_of(business)
    fake.finish_run(execution.apify_run_id, "FAILED", [], deliver_webhooks=False)
    execution_ingest(execution_id=execution.id)
    return RetryEntry.objects.get(business=business, scrape_type="reviews")


def _close_to(actual: timedelta, minutes: int) -> bool:
    return abs(actual - timedelta(minutes=minutes)) < timedelta(seconds=30)


def test_retries_fire_at_5_15_45_minutes_then_the_entry_is_dead(
    fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice, scrape_types=["reviews"])
    entry = _fail_first_run(fake_apify, business)
    assert retry_runs_start_due() == []  # not due yet
    for attempt, minutes in enumerate([5, 15, 45], start=1):
        assert _close_to(_time_passes_until_due(entry), minutes)
        execution = _run_retry(fake_apify, "FAILED", [])
        assert execution.trigger == "retry"
        assert execution.business_snapshot[0]["business_id"] == business.id
        start = next(r for r in reversed(fake_apify.requests) if r.method == "POST")
        assert start.json["placeIds"] == [business.platform_key]
        entry.refresh_from_db()
        assert entry.attempts == attempt
    assert (entry.state, entry.next_attempt_at) == ("dead", None)
    assert retry_runs_start_due() == []


def test_a_successful_retry_closes_the_entry(fake_apify: FakeApify, alice: Team) -> None:
    (business,) = register_google(alice, scrape_types=["reviews"])
    entry = _fail_first_run(fake_apify, business)
    _time_passes_until_due(entry)
    _run_retry(fake_apify, "SUCCEEDED", [review(business.platform_key, "r1")])
    entry.refresh_from_db()
    business.refresh_from_db()
    assert (entry.state, entry.attempts) == ("succeeded", 1)
    assert business.last_status == "succeeded"
    assert business.reviews.count() == 1


def test_a_scheduled_success_also_closes_a_pending_entry(
    fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice, scrape_types=["reviews"])
    entry = _fail_first_run(fake_apify, business)
    execution = batch_trigger(batch_id=business.mappings.get().batch_id)
    execution_start(execution_id=execution.id)
    execution.refresh_from_db()
    fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", [], deliver_webhooks=False)
    execution_ingest(execution_id=execution.id)
    entry.refresh_from_db()
    assert entry.state == "succeeded"


def test_a_start_that_fails_sends_its_businesses_to_the_queue(
    fake_apify: FakeApify, alice: Team
) -> None:
    businesses = register_google(alice, 2, scrape_types=["reviews"])
    execution = batch_trigger(batch_id=businesses[0].mappings.get().batch_id)
    fake_apify.fail_next(503, count=3)
    assert execution_start(execution_id=execution.id) == ExecutionState.FAILED
    assert set(RetryEntry.objects.values_list("business_id", "state")) == {
        (businesses[0].id, "pending"),
        (businesses[1].id, "pending"),
    }


def test_force_retry_reopens_a_dead_entry_now_and_is_audited(
    fake_apify: FakeApify,
    alice: Team,
    settings,
) -> None:
    settings.SCHEDULER_RETRY_MAX_ATTEMPTS = 0  # the first failure is final
    (business,) = register_google(alice, scrape_types=["reviews"])
    dead = _fail_first_run(fake_apify, business)
    assert dead.state == "dead"
    (entry,) = retry_force(business=business, actor="ops", reason="customer asked")
    assert entry.id != dead.id
    assert (entry.state, entry.attempts) == ("pending", 0)
    assert entry.next_attempt_at <= db_now()
    assert len(retry_runs_start_due()) == 1
    event = AuditEvent.objects.get(action="retry.force")
    assert (event.actor, event.reason) == ("ops", "customer asked")
    with pytest.raises(ConflictError, match=RETRY_RUNNING):
        retry_force(business=business, actor="ops")


def test_cleanup_deletes_only_old_closed_entries(alice: Team) -> None:
    (business,) = register_google(alice)
    old = RetryEntry.objects.create(business=business, scrape_type="reviews", state="dead")
    RetryEntry.objects.create(
        business=business, scrape_type="overview", state="pending", next_attempt_at=db_now()
    )
    RetryEntry.objects.filter(id=old.id).update(updated_at=db_now() - timedelta(days=30))
    assert retry_entries_cleanup() == 1
    assert list(RetryEntry.objects.values_list("state", flat=True)) == ["pending"]


def test_a_forced_retry_of_both_scrape_types_runs_each_on_its_own_batch(alice: Team) -> None:
    """The retry execution of each scrape type belongs to the batch serving that type: the
    overview batch's history no longer shows the reviews retry."""
    (business,) = register_google(alice, 1)
    batches = dict(business.mappings.values_list("scrape_type", "batch_id"))
    assert len(set(batches.values())) == 2
    retry_force(business=business, actor="op")
    started = retry_runs_start_due()
    runs = dict(Execution.objects.filter(id__in=started).values_list("scrape_type", "batch_id"))
    assert runs == batches
