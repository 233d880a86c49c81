"""A hostile Apify (apify_sandbox/hostile.py), one switch at a time, against the real loop
pieces: dispatch, the start through apify-client over HTTP, the ingest the worker runs, and
reconciliation, on PostgreSQL. Each test proves the same promise: nothing is lost silently,
no item lands twice or on another team's business, and the execution ends in a true state.
(test_hostile_day.py runs all switches at once through the Celery stack.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from apify_client import ApifyClient

from apify_sandbox.hostile import Hostility
from businesses.models import Business, ReviewItem, Team
from retry.models import RetryEntry
from scheduler_project.dbclock import db_now
from schedules import apify
from schedules.models import ApifyAccount, Execution, UnmatchedItem
from schedules.services.execution_start import execution_start
from schedules.services.ingest import execution_ingest
from schedules.services.reconcile import executions_reconcile
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify, RecordedRequest
from tests.schedules.test_ingest import review, start_batch_of

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PAGE = 7  # small pages, so a 40-item dataset takes several


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apify, "DATASET_PAGE_SIZE", PAGE)


@pytest.fixture
def shared_batch(alice: Team, bob: Team) -> list[Business]:
    """Two teams' businesses in one batch: an item on the wrong one would be a leak."""
    bob.tier = alice.tier
    bob.save()
    return register_google(alice, 2) + register_google(bob, 2)


def dataset_of(businesses: list[Business], per_business: int = 10) -> list[dict]:
    return [
        review(b.platform_key, f"{b.team_id}-{b.id}-{n}")
        for b in businesses
        for n in range(per_business)
    ]


def stored() -> set[tuple[int, str]]:
    return set(ReviewItem.objects.values_list("business_id", "platform_item_id"))


def expected(businesses: list[Business], items: list) -> set[tuple[int, str]]:
    """Each object item on the business whose key it carries, and only there."""
    by_key = {b.platform_key: b.id for b in businesses}
    return {
        (by_key[item["placeId"]], item["reviewId"])
        for item in items
        if isinstance(item, dict) and item.get("placeId") in by_key
    }


def finish(fake: FakeApify, execution: Execution, items: list) -> None:
    fake.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)


def test_latency_on_every_call_slows_the_loop_but_loses_nothing(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    fake_apify.hostility = Hostility(latency=0.05)
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)

    result = execution_ingest(execution_id=execution.id)

    assert result.state == ExecutionState.SUCCEEDED
    assert stored() == expected(shared_batch, items)
    # start, run get, two dataset gets and 40/7 → 6 pages + the empty one, each delayed
    assert fake_apify.hostility.counts["latency"] >= 10


def test_short_5xx_bursts_are_retried_through(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    # Bursts of 2 every 3 requests: the client's 3 attempts (tests.settings) get through.
    fake_apify.hostility = Hostility(error_burst=2, error_every=3)
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)

    assert execution_ingest(execution_id=execution.id).state == ExecutionState.SUCCEEDED
    assert stored() == expected(shared_batch, items)
    counts = fake_apify.hostility.counts
    assert counts["500"] and counts["502"] and counts["503"]


def test_a_5xx_burst_longer_than_the_retries_fails_the_start_truthfully(
    fake_apify: FakeApify, shared_batch: list[Business]
) -> None:
    fake_apify.hostility = Hostility(error_burst=9, error_every=10)
    execution = start_batch_of_without_running(shared_batch[0])

    assert execution_start(execution_id=execution.id) == ExecutionState.FAILED

    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED and "50" in execution.error
    assert fake_apify.runs == {}  # no run was started behind the scheduler's back
    # every business of the batch is queued for a retry, with the reason
    retried = RetryEntry.objects.filter(business__in=shared_batch)
    assert retried.count() == len(shared_batch)


def test_a_429_storm_makes_the_start_wait_not_fail(
    fake_apify: FakeApify, shared_batch: list[Business], settings
) -> None:
    settings.SCHEDULER_CAPACITY_RATE_LIMIT_HOLD_SECONDS = 0  # admission may try again at once
    fake_apify.hostility = Hostility(rate_limit_storm=5, rate_limit_every=6)
    execution = start_batch_of_without_running(shared_batch[0])

    # requests 1-3 (one start, 3 attempts) are inside the storm: the start waits its turn
    assert execution_start(execution_id=execution.id) == ExecutionState.PENDING
    execution.refresh_from_db()
    assert execution.state == ExecutionState.PENDING and "429" in execution.wait_reason
    assert fake_apify.runs == {}

    fake_apify.hostility.rate_limit_storm = 0  # the storm passes
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    assert len(fake_apify.runs) == 1 and fake_apify.hostility.counts["429"] >= 3
    assert ApifyAccount.objects.get().rate_limited == 1  # counted, shown on the capacity page


def test_runs_that_never_call_back_are_finished_by_reconciliation(
    fake_apify: FakeApify, shared_batch: list[Business], settings
) -> None:
    fake_apify.hostility = Hostility(silent_runs=True)
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch, 3)
    assert fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items) == []
    assert fake_apify.hostility.counts["silent_run"] == 1
    Execution.objects.filter(id=execution.id).update(started_at=db_now() - timedelta(hours=2))

    assert executions_reconcile() == 1

    execution.refresh_from_db()
    assert execution.state == ExecutionState.SUCCEEDED
    assert stored() == expected(shared_batch, items)


def test_lying_pagination_headers_do_not_skip_items(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None, settings
) -> None:
    fake_apify.hostility = Hostility(lying_pagination=True)
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)

    # What apify-client's own paging would trust: a page that claims 7 rows holds 4.
    page = (
        ApifyClient(settings.APIFY_TOKEN, api_url=fake_apify.url)
        .dataset(execution.apify_dataset_id)
        .list_items(offset=0, limit=PAGE)
    )
    assert (page.count, len(page.items), page.total) == (PAGE, 4, 4)

    assert execution_ingest(execution_id=execution.id).items == len(items)
    assert stored() == expected(shared_batch, items)


def test_a_dataset_that_changes_while_read_is_read_again(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    fake_apify.hostility = Hostility(shifting_datasets=3)  # the first read sees it move
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)

    result = execution_ingest(execution_id=execution.id)

    assert fake_apify.hostility.counts["shifted_page"] == 3
    assert (result.items, result.attributed, result.unmatched) == (40, 40, 0)
    assert stored() == expected(shared_batch, items)


def test_a_dataset_that_never_settles_fails_the_execution_with_the_reason(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    fake_apify.hostility = Hostility(shifting_datasets=10_000)
    execution = start_batch_of(shared_batch[0])
    finish(fake_apify, execution, dataset_of(shared_batch))

    with pytest.raises(apify.DatasetUnreadable, match="changed while it was read"):
        execution_ingest(execution_id=execution.id)
    assert Execution.objects.get(id=execution.id).state == ExecutionState.RUNNING  # tried again

    # Still unreadable a whole run timeout after it was overdue: reconciliation gives up.
    Execution.objects.filter(id=execution.id).update(started_at=db_now() - timedelta(hours=3))
    assert executions_reconcile() == 1
    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED
    assert execution.error.startswith("The Apify dataset") and stored() == set()
    assert RetryEntry.objects.filter(business__in=shared_batch).count() == len(shared_batch)


def test_items_that_are_not_objects_are_counted_unmatched(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    hostility = fake_apify.hostility = Hostility(non_object_rate=0.3)
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)
    served = [hostility.served_item(execution.apify_dataset_id, item) for item in items]
    replaced = sum(not isinstance(item, dict) for item in served)
    assert 0 < replaced < len(items)

    result = execution_ingest(execution_id=execution.id)

    assert (result.items, result.attributed, result.unmatched) == (40, 40 - replaced, replaced)
    assert stored() == expected(shared_batch, served)
    assert UnmatchedItem.objects.filter(reason="no_key").count() == replaced


def test_truncated_bodies_are_fetched_again(
    fake_apify: FakeApify, shared_batch: list[Business], small_pages: None
) -> None:
    fake_apify.hostility = Hostility(truncate_every=2)  # every other page drops mid-body
    execution = start_batch_of(shared_batch[0])
    items = dataset_of(shared_batch)
    finish(fake_apify, execution, items)

    assert execution_ingest(execution_id=execution.id).items == len(items)
    assert fake_apify.hostility.counts["truncated"] >= 3
    assert stored() == expected(shared_batch, items)


def start_batch_of_without_running(business: Business) -> Execution:
    """The batch's execution dispatched and left pending (the start is the test's)."""
    from schedules.models import Batch
    from schedules.services.dispatch import dispatch_tick

    batch = business.mappings.get(scrape_type="reviews").batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    dispatch_tick()
    return Execution.objects.get(batch=batch, trigger="scheduled")


class EndlessDataset(FakeApify):
    """A broken proxy in front of Apify: every page is the first one, whatever the offset."""

    def _received(self, req: RecordedRequest) -> None:
        if req.path.endswith("/items"):
            req.query["offset"] = "0"
        super()._received(req)


def test_a_dataset_that_never_ends_is_refused_instead_of_filling_the_disk(
    shared_batch: list[Business], small_pages: None, settings
) -> None:
    with EndlessDataset(token="test-token") as endless:
        settings.APIFY_API_URL = endless.url
        settings.WEBHOOK_BASE_URL = "https://scheduler.example.test"
        execution = start_batch_of(shared_batch[0])
        finish(endless, execution, dataset_of(shared_batch))

        with pytest.raises(apify.DatasetUnreadable, match="had not ended; it holds 40"):
            execution_ingest(execution_id=execution.id)
    assert stored() == set()
