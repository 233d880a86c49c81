"""Ingest: re-fetch the run, attribute to THAT snapshot only, upsert, record outcomes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from businesses.models import Business, ReviewItem, Team
from businesses.services import business_register
from retry.models import RetryEntry
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution, UnmatchedItem
from schedules.services.batches import batch_trigger
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.services.ingest import NO_OVERVIEW_ITEM, execution_ingest
from schedules.states import ExecutionState
from tests.conftest import place_id, register_google
from tests.fakes.apify_server import FakeApify


def start_batch_of(business: Business, scrape_type: str = "reviews") -> Execution:
    batch = business.mappings.get(scrape_type=scrape_type).batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    dispatch_tick()
    execution = Execution.objects.get(batch=batch, trigger="scheduled")
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    execution.refresh_from_db()
    return execution


def review(place: str, review_id: str, **extra: object) -> dict:
    return {
        "placeId": place,
        "reviewId": review_id,
        "stars": 5,
        "text": "ok",
        "publishedAtDate": "2026-11-20T08:00:00.000Z",
        **extra,
    }


@pytest.fixture
def two_teams_one_batch(alice: Team, bob: Team) -> tuple[list[Business], list[Business]]:
    bob.tier = alice.tier  # same interval → same group → one batch for both teams
    bob.save()
    return register_google(alice, 2), register_google(bob, 1)


def test_each_review_lands_on_its_own_business_and_nowhere_else(
    fake_apify: FakeApify,
    two_teams_one_batch,
    charlie: Team,
) -> None:
    (a1, a2), (b1,) = two_teams_one_batch
    (outsider,) = register_google(charlie)  # another team, another batch
    execution = start_batch_of(a1)
    items = [
        review(a1.platform_key, "r1"),
        review(a1.platform_key, "r2"),
        review(a2.platform_key, "r3"),
        review(b1.platform_key, "r4"),
        review(outsider.platform_key, "r5"),  # key of a business outside the snapshot
        {"reviewId": "r6", "text": "no place id"},
        review(a1.platform_key, "r1"),  # a duplicate inside the dataset
    ]
    fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)

    result = execution_ingest(execution_id=execution.id)

    assert (result.state, result.items, result.attributed, result.unmatched, result.failed) == (
        ExecutionState.SUCCEEDED,
        7,
        4,
        2,
        0,
    )
    stored = {(r.business_id, r.platform_item_id) for r in ReviewItem.objects.all()}
    assert stored == {(a1.id, "r1"), (a1.id, "r2"), (a2.id, "r3"), (b1.id, "r4")}
    assert not ReviewItem.objects.filter(business=outsider).exists()
    assert sorted(UnmatchedItem.objects.values_list("reason", flat=True)) == [
        "no_key",
        "not_in_snapshot",
    ]
    assert ReviewItem.objects.get(platform_item_id="r1").published_at.day == 20
    execution.refresh_from_db()
    run = fake_apify.runs[execution.apify_run_id]
    assert execution.state == ExecutionState.SUCCEEDED
    assert (execution.items_count, execution.attributed_count, execution.unmatched_count) == (
        7,
        4,
        2,
    )
    assert execution.usage_usd == Decimal(str(run.to_json("u")["usageTotalUsd"]))
    assert execution.compute_units is not None and execution.duration_ms is not None
    for business in (a1, a2, b1):
        business.refresh_from_db()
        assert business.last_status == "succeeded" and business.last_scraped_at is not None
    outsider.refresh_from_db()
    assert outsider.last_status is None


def test_a_second_ingest_adds_nothing(fake_apify: FakeApify, alice: Team) -> None:
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    items = [review(business.platform_key, f"r{i}") for i in range(5)]
    fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)
    assert execution_ingest(execution_id=execution.id).attributed == 5
    assert execution_ingest(execution_id=execution.id) is None
    assert ReviewItem.objects.count() == 5


def test_the_same_review_scraped_again_by_a_later_run_is_stored_once(
    fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice, scrape_types=["reviews"])
    batch = business.mappings.get().batch
    for _ in range(2):
        execution = batch_trigger(batch_id=batch.id)
        execution_start(execution_id=execution.id)
        execution.refresh_from_db()
        fake_apify.finish_run(
            execution.apify_run_id,
            "SUCCEEDED",
            [review(business.platform_key, "same")],
            deliver_webhooks=False,
        )
        assert execution_ingest(execution_id=execution.id).attributed == 1
    assert ReviewItem.objects.filter(business=business).count() == 1


def test_error_items_fail_their_business_and_queue_a_retry(
    fake_apify: FakeApify, alice: Team
) -> None:
    ok, broken = register_google(alice, 2)
    execution = start_batch_of(ok)
    items = [
        review(ok.platform_key, "r1"),
        {"placeId": broken.platform_key, "error": "Place not found"},
    ]
    fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)
    assert execution_ingest(execution_id=execution.id).failed == 1
    broken.refresh_from_db()
    assert (broken.last_status, broken.last_error) == ("failed", "Place not found")
    entry = RetryEntry.objects.get()
    assert (entry.business_id, entry.scrape_type, entry.state, entry.attempts) == (
        broken.id,
        "reviews",
        "pending",
        0,
    )
    assert not ReviewItem.objects.filter(business=broken).exists()


@pytest.mark.parametrize("status", ["FAILED", "TIMED-OUT", "ABORTED"])
def test_a_failed_run_fails_every_business_of_the_snapshot(
    fake_apify: FakeApify, alice: Team, status: str
) -> None:
    businesses = register_google(alice, 3)
    execution = start_batch_of(businesses[0])
    fake_apify.finish_run(
        execution.apify_run_id,
        status,
        [review(businesses[0].platform_key, "r1")],
        deliver_webhooks=False,
    )
    result = execution_ingest(execution_id=execution.id)
    assert (result.state, result.failed, result.attributed) == (ExecutionState.FAILED, 3, 0)
    execution.refresh_from_db()
    assert status in execution.error
    assert set(Business.objects.values_list("last_status", flat=True)) == {"failed"}
    assert RetryEntry.objects.filter(state="pending").count() == 3


def test_overview_fails_a_business_that_got_no_item(fake_apify: FakeApify, alice: Team) -> None:
    seen = business_register(
        team=alice, platform="google", external_id=place_id(), scrape_types=["overview"]
    )
    missing = business_register(
        team=alice, platform="google", external_id=place_id(), scrape_types=["overview"]
    )
    execution = start_batch_of(seen, "overview")
    fake_apify.finish_run(
        execution.apify_run_id,
        "SUCCEEDED",
        [{"placeId": seen.platform_key, "title": "Joe's", "totalScore": 4.5}],
        deliver_webhooks=False,
    )
    execution_ingest(execution_id=execution.id)
    missing.refresh_from_db()
    seen.refresh_from_db()
    assert (seen.last_status, missing.last_status) == ("succeeded", "failed")
    assert missing.last_error == NO_OVERVIEW_ITEM


def test_the_payload_is_only_a_hint_a_run_still_running_is_left_alone(
    fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    assert execution_ingest(execution_id=execution.id) is None  # Apify says RUNNING
    execution.refresh_from_db()
    assert execution.state == ExecutionState.RUNNING


def test_a_business_deleted_during_the_run_is_skipped(fake_apify: FakeApify, alice: Team) -> None:
    kept, gone = register_google(alice, 2)
    execution = start_batch_of(kept)
    from businesses.services import business_delete

    business_delete(business=gone)
    fake_apify.finish_run(
        execution.apify_run_id,
        "SUCCEEDED",
        [review(kept.platform_key, "r1"), review(gone.platform_key, "r2")],
        deliver_webhooks=False,
    )
    assert execution_ingest(execution_id=execution.id).state == ExecutionState.SUCCEEDED
    assert list(ReviewItem.objects.values_list("business_id", flat=True)) == [kept.id]


def test_a_dataset_is_stored_page_by_page_with_duplicates_across_pages_counted_once(
    fake_apify: FakeApify, alice: Team, monkeypatch: pytest.MonkeyPatch
) -> None:
    from schedules import apify

    monkeypatch.setattr(apify, "DATASET_PAGE_SIZE", 4)
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    items = [review(business.platform_key, f"r{i % 7}") for i in range(20)]  # 7 distinct
    fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)

    result = execution_ingest(execution_id=execution.id)

    assert (result.items, result.attributed, result.unmatched) == (20, 7, 0)
    assert ReviewItem.objects.filter(business=business).count() == 7
    pages = [
        r for r in fake_apify.requests if r.path.endswith("/items") and r.query.get("limit") == "4"
    ]
    assert len(pages) == 6  # five pages of four and the empty one: never one big request
