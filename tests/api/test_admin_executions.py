"""Operators' API on executions: history, detail with per-business outcome, cancel, re-run."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Business, ReviewItem, ScrapeOutcome, Team
from businesses.services import BusinessRow, businesses_bulk_register
from retry.models import RetryEntry
from schedules.models import Batch, Execution
from schedules.services.executions import EXECUTION_NOT_ACTIVE
from schedules.services.operations import EXECUTION_NOT_FINISHED
from tests.api.admin_helpers import (
    ADMIN,
    batch_of,
    db_fingerprint,
    executions_bulk,
    make_execution,
)
from tests.conftest import place_id, register_google

EXECUTIONS = f"{ADMIN}/executions"


def _snapshot(businesses: list[Business]) -> list[dict]:
    return [
        {
            "business_id": b.id,
            "team_id": b.team_id,
            "external_id": b.external_id,
            "key": b.platform_key,
        }
        for b in businesses
    ]


# --- reads -----------------------------------------------------------------------------------


def test_list_is_newest_first_with_the_spec_shape_and_filters(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    reviews, overview = batch_of(business), batch_of(business, "overview")
    old = make_execution(reviews, ago=timedelta(hours=1), state="failed", error="boom")
    manual = make_execution(reviews, trigger="manual", items_count=7, usage_usd="0.125")
    other = make_execution(overview, state="running")
    body = admin_client_key.get(f"{EXECUTIONS}/").json()
    assert [e["id"] for e in body["results"]] == [str(other.id), str(manual.id), str(old.id)]
    row = body["results"][1]
    for field in (
        "schedule_id",
        "trigger",
        "state",
        "scheduled_for",
        "started_at",
        "finished_at",
        "duration_ms",
        "apify_run_id",
        "business_count",
        "items_count",
        "error",
        "attributed_count",
        "unmatched_count",
        "failed_count",
        "compute_units",
    ):
        assert field in row
    assert (row["schedule_id"], row["items_count"], row["usage_usd"]) == (reviews.id, 7, 0.125)

    def ids(query: str) -> list[str]:
        return [e["id"] for e in admin_client_key.get(f"{EXECUTIONS}/?{query}").json()["results"]]

    assert ids("state=failed") == [str(old.id)]
    assert ids("trigger=manual") == [str(manual.id)]
    assert ids("scrape_type=overview") == [str(other.id)]
    assert ids(f"schedule_id={reviews.id}") == [str(manual.id), str(old.id)]
    assert ids("platform=booking") == []


@pytest.mark.parametrize(
    "query, field",
    [
        ("state=exploded", "state"),
        ("trigger=cron", "trigger"),
        ("platform=myspace", "platform"),
        ("scrape_type=photos", "scrape_type"),
        ("schedule_id=abc", "schedule_id"),
    ],
)
def test_a_bad_filter_is_400_naming_it(
    admin_client_key: APIClient, groups: None, query: str, field: str
) -> None:
    response = admin_client_key.get(f"{EXECUTIONS}/?{query}")
    assert response.status_code == 400 and field in response.json()


def test_list_queries_do_not_grow_with_executions(admin_client_key: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)

    def queries_at(total: int) -> int:
        executions_bulk(batch, total - Execution.objects.count())
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{EXECUTIONS}/?limit=500")
        assert len(response.json()["results"]) == total
        return len(ctx.captured_queries)

    assert queries_at(10) == queries_at(200)


def test_detail_shows_each_snapshot_business_outcome(
    admin_client_key: APIClient, alice: Team, bob: Team
) -> None:
    ok, failed = register_google(alice, 2)
    (gone,) = register_google(bob)
    Business.objects.filter(id=ok.id).update(last_status="succeeded")
    Business.objects.filter(id=failed.id).update(last_status="failed", last_error="error item")
    # `failed` failed its overview; this execution's type (reviews) last succeeded.
    ScrapeOutcome.objects.create(
        business=failed,
        scrape_type="overview",
        last_scraped_at=timezone.now(),
        last_status="failed",
        last_error="error item",
    )
    ScrapeOutcome.objects.create(
        business=failed,
        scrape_type="reviews",
        last_scraped_at=timezone.now(),
        last_status="succeeded",
    )
    execution = make_execution(
        batch_of(ok), business_snapshot=_snapshot([ok, failed, gone]), business_count=3
    )
    ReviewItem.objects.bulk_create(
        ReviewItem(business=ok, execution=execution, platform_item_id=f"r{i}", payload={})
        for i in range(3)
    )
    ReviewItem.objects.create(business=ok, platform_item_id="older", payload={})
    gone_id = gone.id
    gone.delete()
    body = admin_client_key.get(f"{EXECUTIONS}/{execution.id}/").json()
    assert body["id"] == str(execution.id) and body["business_count"] == 3
    outcomes = {b["business_id"]: b for b in body["businesses"]}
    assert outcomes[ok.id] == {
        "business_id": ok.id,
        "team_id": "alice",
        "external_id": ok.external_id,
        "exists": True,
        "name": ok.name,
        "last_status": "succeeded",
        "last_error": "",
        "scrape_type_status": None,
        "scrape_type_error": "",
        "reviews_stored": 3,
    }
    assert (outcomes[failed.id]["last_status"], outcomes[failed.id]["last_error"]) == (
        "failed",
        "error item",
    )
    this_type = outcomes[failed.id]
    assert (this_type["scrape_type_status"], this_type["scrape_type_error"]) == ("succeeded", "")
    assert outcomes[failed.id]["reviews_stored"] == 0
    assert (outcomes[gone_id]["exists"], outcomes[gone_id]["team_id"]) == (False, "bob")


def test_detail_queries_do_not_grow_with_the_snapshot(
    admin_client_key: APIClient, groups: None
) -> None:
    def queries_for(team_id: str, count: int) -> int:
        Team.objects.create(team_id=team_id, tier="free")
        businesses_bulk_register(
            rows=[BusinessRow(team_id, "google", place_id()) for _ in range(count)]
        )
        execution = make_execution(
            None, business_snapshot=_snapshot(list(Business.objects.filter(team_id=team_id)))
        )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{EXECUTIONS}/{execution.id}/")
        assert len(response.json()["businesses"]) == count
        return len(ctx.captured_queries)

    assert queries_for("ten", 10) == queries_for("two-hundred", 200)


@pytest.mark.parametrize("suffix", ["", "cancel/", "retry/"])
def test_an_unknown_execution_is_404(admin_client_key: APIClient, groups: None, suffix) -> None:
    url = f"{EXECUTIONS}/{uuid.uuid4()}/{suffix}"
    response = admin_client_key.post(url) if suffix else admin_client_key.get(url)
    assert response.status_code == 404
    assert not AuditEvent.objects.exists()


# --- cancel ----------------------------------------------------------------------------------


def test_cancel_stops_an_active_execution_with_audit(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(batch_of(business), state="running", apify_run_id="run-1")
    response = admin_client_key.post(
        f"{EXECUTIONS}/{execution.id}/cancel/", {"reason": "stuck run"}
    )
    assert response.status_code == 200 and response.json()["state"] == "cancelled"
    execution.refresh_from_db()
    assert (execution.state, execution.run_abort_pending) == ("cancelled", True)
    assert "stuck run" in execution.error
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.reason) == (
        "api-key:ops-tool",
        "execution.cancel",
        "stuck run",
    )
    assert (event.before, event.after) == ({"state": "running"}, {"state": "cancelled"})


def test_cancel_of_a_finished_execution_is_409_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(batch_of(business), state="succeeded")
    before = db_fingerprint()
    response = admin_client_key.post(f"{EXECUTIONS}/{execution.id}/cancel/")
    assert response.status_code == 409
    assert response.json() == {"detail": EXECUTION_NOT_ACTIVE}
    assert db_fingerprint() == before


def test_a_bad_cancel_reason_is_400_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(batch_of(business), state="running")
    before = db_fingerprint()
    response = admin_client_key.post(
        f"{EXECUTIONS}/{execution.id}/cancel/", {"reason": ["a", "b"]}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert db_fingerprint() == before


# --- re-run ----------------------------------------------------------------------------------


def test_retry_of_a_finished_batch_execution_triggers_the_batch(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    failed = make_execution(batch, state="failed", error="actor crashed")
    response = admin_client_key.post(f"{EXECUTIONS}/{failed.id}/retry/", {"reason": "fixed"})
    assert response.status_code == 202
    new = Execution.objects.exclude(id=failed.id).get()
    assert response.json() == {
        "execution": response.json()["execution"],
        "retry_entries": [],
    }
    assert response.json()["execution"]["id"] == str(new.id)
    assert (new.batch_id, new.trigger, new.state) == (batch.id, "manual", "pending")
    actions = list(AuditEvent.objects.order_by("id").values_list("action", "object_id"))
    assert actions == [("batch.trigger", str(batch.id)), ("execution.retry", str(failed.id))]
    assert AuditEvent.objects.get(action="execution.retry").after == {
        "execution_id": str(new.id),
        "retry_entry_ids": [],
    }


def test_retry_of_a_retry_execution_forces_its_business_retry(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(
        batch_of(business),
        trigger="retry",
        state="failed",
        business_snapshot=_snapshot([business]),
        scrape_type="overview",
    )
    response = admin_client_key.post(f"{EXECUTIONS}/{execution.id}/retry/")
    assert response.status_code == 202
    body = response.json()
    entry = RetryEntry.objects.get()
    assert body["execution"] is None
    assert [e["id"] for e in body["retry_entries"]] == [entry.id]
    assert (entry.business_id, entry.scrape_type, entry.state) == (
        business.id,
        "overview",
        "pending",
    )
    assert entry.next_attempt_at is not None
    assert Execution.objects.count() == 1
    assert set(AuditEvent.objects.values_list("action", flat=True)) == {
        "retry.force",
        "execution.retry",
    }


@pytest.mark.parametrize("state", ["pending", "starting", "running"])
def test_retry_of_an_unfinished_execution_is_409_and_writes_nothing(
    admin_client_key: APIClient, alice: Team, state: str
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(batch_of(business), state=state)
    before = db_fingerprint()
    response = admin_client_key.post(f"{EXECUTIONS}/{execution.id}/retry/")
    assert response.status_code == 409
    assert response.json() == {"detail": EXECUTION_NOT_FINISHED.format(state=state)}
    assert db_fingerprint() == before


def test_retry_of_an_execution_of_a_retired_batch_is_409(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    execution = make_execution(batch, state="succeeded")
    Batch.objects.filter(id=batch.id).update(status="retired")
    before = db_fingerprint()
    assert admin_client_key.post(f"{EXECUTIONS}/{execution.id}/retry/").status_code == 409
    assert db_fingerprint() == before


def test_a_bad_retry_reason_is_400_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = make_execution(batch_of(business), state="failed")
    before = db_fingerprint()
    response = admin_client_key.post(
        f"{EXECUTIONS}/{execution.id}/retry/", {"reason": "x" * 1001}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert db_fingerprint() == before
