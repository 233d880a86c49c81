"""Starting a run through the real apify-client against the strict fake Apify."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from businesses.models import Team
from businesses.services import business_register, business_update
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.batches import batch_trigger
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import BATCH_EMPTY, execution_start
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify

RUNS_PATH = "/v2/actors/compass~google-maps-reviews-scraper/runs"


def _dispatch_reviews_batch() -> Execution:
    Batch.objects.filter(group__scrape_type="reviews").update(next_run_at=db_now())
    assert dispatch_tick().created >= 1
    return Execution.objects.get(scrape_type="reviews", platform="google")


def _run_starts(fake: FakeApify) -> list:
    return [r for r in fake.requests if r.method == "POST" and r.path == RUNS_PATH]


def test_start_sends_the_batch_input_and_our_webhook(
    fake_apify: FakeApify, alice: Team, bob: Team
) -> None:
    bob.tier = "professional"  # same group as alice: one batch, two teams
    bob.save()
    businesses = register_google(alice, 2) + register_google(bob, 1)
    execution = _dispatch_reviews_batch()

    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING

    (request,) = _run_starts(fake_apify)
    assert request.headers["authorization"] == "Bearer test-token"
    assert request.json["placeIds"] == [b.platform_key for b in businesses]
    assert request.json["reviewsSort"] == "newest"
    assert request.query["memory"] == "1024" and request.query["timeout"] == "3600"
    (webhook,) = request.webhooks
    assert webhook["requestUrl"] == "https://scheduler.example.test/api/v1/webhooks/apify/"
    assert json.loads(webhook["headersTemplate"]) == {"X-Webhook-Secret": "s3cret-for-tests"}
    assert webhook["idempotencyKey"] == str(execution.id)
    assert sorted(webhook["eventTypes"]) == [
        "ACTOR.RUN.ABORTED",
        "ACTOR.RUN.FAILED",
        "ACTOR.RUN.SUCCEEDED",
        "ACTOR.RUN.TIMED_OUT",
    ]

    execution.refresh_from_db()
    run = fake_apify.runs[execution.apify_run_id]
    assert execution.state == ExecutionState.RUNNING
    assert execution.apify_dataset_id == run.dataset_id
    assert execution.actor_id == "compass/google-maps-reviews-scraper"
    assert execution.started_at is not None and execution.lease_expires_at is None
    assert execution.business_count == 3
    assert [(s["business_id"], s["team_id"]) for s in execution.business_snapshot] == [
        (b.id, b.team_id) for b in businesses
    ]
    assert execution.requested_memory_mbytes == 1024


def test_a_start_retried_after_429s_succeeds(fake_apify: FakeApify, alice: Team) -> None:
    register_google(alice)
    execution = _dispatch_reviews_batch()
    fake_apify.fail_next(429, count=2)
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    assert len(_run_starts(fake_apify)) == 3


def test_a_start_that_still_fails_after_retries_fails_the_execution(
    fake_apify: FakeApify, alice: Team
) -> None:
    register_google(alice)
    execution = _dispatch_reviews_batch()
    fake_apify.fail_next(503, count=3)  # APIFY_MAX_RETRIES=2 in tests: 3 attempts
    assert execution_start(execution_id=execution.id) == ExecutionState.FAILED
    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED
    assert "ServerError" in execution.error
    assert execution.finished_at is not None and execution.apify_run_id is None
    assert len(_run_starts(fake_apify)) == 3


def test_an_unreachable_apify_fails_the_execution_with_the_error(
    settings,
    alice: Team,
) -> None:
    settings.APIFY_API_URL = "http://127.0.0.1:9"  # nothing listens on the discard port
    register_google(alice)
    execution = _dispatch_reviews_batch()
    assert execution_start(execution_id=execution.id) == ExecutionState.FAILED
    execution.refresh_from_db()
    assert execution.error


def test_a_batch_whose_businesses_left_is_skipped(fake_apify: FakeApify, alice: Team) -> None:
    (business,) = register_google(alice)
    execution = _dispatch_reviews_batch()
    business_update(business=business, active=False)
    assert execution_start(execution_id=execution.id) == ExecutionState.SKIPPED
    execution.refresh_from_db()
    assert execution.error == BATCH_EMPTY
    assert _run_starts(fake_apify) == []


def test_a_second_start_of_the_same_execution_does_nothing(
    fake_apify: FakeApify, alice: Team
) -> None:
    register_google(alice)
    execution = _dispatch_reviews_batch()
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    assert execution_start(execution_id=execution.id) is None
    assert len(_run_starts(fake_apify)) == 1


def test_a_start_left_by_a_dead_worker_is_taken_again_after_the_lease(
    fake_apify: FakeApify,
    alice: Team,
    django_capture_on_commit_callbacks,
) -> None:
    register_google(alice)
    execution = _dispatch_reviews_batch()
    # A worker took the lease, then died before calling Apify.
    Execution.objects.filter(id=execution.id).update(
        state=ExecutionState.STARTING,
        start_attempts=1,
        lease_expires_at=db_now() + timedelta(minutes=5),
    )
    assert dispatch_tick().recovered == 0  # lease still valid: nobody touches it
    Execution.objects.filter(id=execution.id).update(
        lease_expires_at=db_now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        assert dispatch_tick().recovered == 1
    assert len(callbacks) == 1  # its start is enqueued again
    execution.refresh_from_db()
    assert execution.state == ExecutionState.PENDING and execution.lease_expires_at > db_now()

    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    execution.refresh_from_db()
    assert execution.start_attempts == 2
    assert len(_run_starts(fake_apify)) == 1


def test_trigger_now_starts_through_the_same_path(
    fake_apify: FakeApify,
    alice: Team,
    django_capture_on_commit_callbacks,
) -> None:
    business = business_register(
        team=alice,
        platform="booking",
        external_id="https://www.booking.com/hotel/fr/a.html",
        scrape_types=["reviews"],
    )
    batch = business.mappings.get().batch
    with django_capture_on_commit_callbacks() as callbacks:
        execution = batch_trigger(batch_id=batch.id, actor="ops@example.com")
    assert len(callbacks) == 1
    assert (execution.trigger, execution.state) == ("manual", ExecutionState.PENDING)
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    (request,) = [r for r in fake_apify.requests if r.method == "POST"]
    assert request.path == "/v2/actors/voyager~booking-reviews-scraper/runs"
    assert request.json["startUrls"] == [
        {
            "url": "https://www.booking.com/hotel/fr/a.html",
            "userData": {"businessId": business.id, "key": "fr/a"},
        }
    ]


@pytest.mark.parametrize("status", [403, 400])
def test_a_refused_start_is_not_retried(fake_apify: FakeApify, alice: Team, status: int) -> None:
    register_google(alice)
    execution = _dispatch_reviews_batch()
    fake_apify.fail_next(status)
    assert execution_start(execution_id=execution.id) == ExecutionState.FAILED
    assert len(_run_starts(fake_apify)) == 1


def test_a_platform_and_scrape_type_may_request_its_own_memory(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    """SCHEDULER_RUN_MEMORY ("google.reviews=4096") sizes one kind of run; the execution
    records what its run requested (what it holds of the account's memory)."""
    settings.SCHEDULER_RUN_MEMORY = {"google.reviews": 4096}
    register_google(alice, 1)
    execution = _dispatch_reviews_batch()
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    (request,) = _run_starts(fake_apify)
    assert request.query["memory"] == "4096"
    execution.refresh_from_db()
    assert execution.requested_memory_mbytes == 4096
    assert fake_apify.runs[execution.apify_run_id].options["memoryMbytes"] == 4096
