"""Outcomes are per (business, scrape type): a failed reviews run says nothing about the
overview. The business's own `last_status` stays, as the worst of its types; retry entries
name the batch their runs belong to."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from businesses.models import Business, ScrapeOutcome, Team
from retry.models import RetryEntry
from retry.services import retry_force
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.services.ingest import execution_ingest
from schedules.services.retry_runs import retry_runs_start_due
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.schedules.test_ingest import review


def _finish(fake: FakeApify, business: Business, scrape_type: str, status: str) -> None:
    batch = business.mappings.get(scrape_type=scrape_type).batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    dispatch_tick()
    execution = Execution.objects.get(batch=batch, state=ExecutionState.PENDING)
    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING
    execution.refresh_from_db()
    items = []
    if status == "SUCCEEDED":
        items = (
            [review(business.platform_key, "r1")]
            if scrape_type == "reviews"
            else [{"placeId": business.platform_key, "title": "Joe's", "totalScore": 4.5}]
        )
    fake.finish_run(execution.apify_run_id, status, items, deliver_webhooks=False)
    execution_ingest(execution_id=execution.id)


def _outcomes(client: APIClient, business: Business) -> tuple[str | None, dict[str, str | None]]:
    body = client.get(f"/api/v1/teams/{business.team_id}/businesses/{business.id}/").json()
    return body["last_status"], {o["scrape_type"]: o["last_status"] for o in body["outcomes"]}


@pytest.fixture
def business(alice: Team) -> Business:
    (business,) = register_google(alice, 1)
    assert sorted(business.scrape_types) == ["overview", "reviews"]
    return business


def test_each_scrape_type_keeps_its_own_outcome_and_last_status_is_the_worst(
    fake_apify: FakeApify, business: Business, product_client: APIClient
) -> None:
    assert _outcomes(product_client, business) == (None, {"overview": None, "reviews": None})

    _finish(fake_apify, business, "reviews", "FAILED")
    _finish(fake_apify, business, "overview", "SUCCEEDED")
    # The overview succeeding after the failed reviews run does not hide the failure.
    assert _outcomes(product_client, business) == (
        "failed",
        {"overview": "succeeded", "reviews": "failed"},
    )
    business.refresh_from_db()
    assert business.last_error == ScrapeOutcome.objects.get(scrape_type="reviews").last_error != ""

    _finish(fake_apify, business, "reviews", "SUCCEEDED")
    assert _outcomes(product_client, business) == (
        "succeeded",
        {"overview": "succeeded", "reviews": "succeeded"},
    )
    business.refresh_from_db()
    assert business.last_error == ""


def test_a_batch_lists_its_own_scrape_types_status(
    fake_apify: FakeApify, business: Business, admin_client_key: APIClient
) -> None:
    _finish(fake_apify, business, "reviews", "FAILED")
    _finish(fake_apify, business, "overview", "SUCCEEDED")
    batches = dict(business.mappings.values_list("scrape_type", "batch_id"))
    rows = {
        scrape_type: admin_client_key.get(f"/api/v1/admin/schedules/{batch}/businesses/").json()[
            "results"
        ][0]
        for scrape_type, batch in batches.items()
    }
    assert rows["overview"]["scrape_type_status"] == "succeeded"
    assert rows["reviews"]["scrape_type_status"] == "failed"
    assert rows["reviews"]["scrape_type_error"]
    # Added, not replacing: the per-business figure is still there, the worst of the two.
    assert rows["overview"]["last_status"] == rows["reviews"]["last_status"] == "failed"


def test_a_retry_entry_names_the_batch_of_the_run_that_failed(
    fake_apify: FakeApify, business: Business, admin_client_key: APIClient
) -> None:
    batches = dict(business.mappings.values_list("scrape_type", "batch_id"))
    _finish(fake_apify, business, "reviews", "FAILED")
    entry = RetryEntry.objects.get(business=business)
    assert entry.batch_id == batches["reviews"]

    (listed,) = admin_client_key.get("/api/v1/admin/retry-queue/").json()["results"]
    assert listed["schedule_id"] == batches["reviews"]


def test_a_forced_retry_records_the_batch_of_each_type_when_it_starts(
    business: Business,
) -> None:
    batches = dict(business.mappings.values_list("scrape_type", "batch_id"))
    retry_force(business=business, actor="op")
    assert set(RetryEntry.objects.values_list("batch_id", flat=True)) == {None}
    retry_runs_start_due()
    recorded = dict(RetryEntry.objects.values_list("scrape_type", "batch_id"))
    assert recorded == batches
