"""Executions on the dashboard: the filterable history, one execution with its per-business
outcome, cancel with a reason (audited), and pages whose query count does not grow with rows."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import Team
from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
from schedules.models import Batch, Execution, Trigger
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_trigger
from schedules.services.execution_start import batch_snapshot
from schedules.states import ExecutionState
from tests.conftest import place_id, register_google
from tests.dashboard.conftest import log_in, screenshot


def triggered_execution(team_id: str = "alice", businesses: int = 3) -> Execution:
    """A manual execution of a real batch, through the services; its snapshot is taken as
    the start task would (no worker runs in these tests)."""
    schedule_groups_init()
    team = team_upsert(team_id=team_id, tier="professional")[0]
    business = register_google(team, businesses)[0]
    batch_id = business.mappings.get(scrape_type="reviews").batch_id
    execution = batch_trigger(batch_id=batch_id, actor="x")
    snapshot = batch_snapshot(batch_id=batch_id, scrape_type="reviews")
    Execution.objects.filter(id=execution.id).update(
        business_snapshot=snapshot, business_count=len(snapshot)
    )
    execution.refresh_from_db()
    return execution


def finished_execution(batch: Batch, minutes_ago: int, **fields: object) -> Execution:
    now = timezone.now()
    execution = Execution.objects.create(
        batch=batch,
        platform=batch.group.platform,
        scrape_type=batch.group.scrape_type,
        trigger=Trigger.SCHEDULED,
        scheduled_for=now - timedelta(minutes=minutes_ago),
        started_at=now - timedelta(minutes=minutes_ago),
        finished_at=now - timedelta(minutes=minutes_ago) + timedelta(seconds=42),
        duration_ms=42_000,
        **fields,
    )
    Execution.objects.filter(id=execution.id).update(created_at=execution.scheduled_for)
    execution.refresh_from_db()
    return execution


class TestInTheBrowser:
    pytestmark = pytest.mark.django_db(transaction=True)

    def test_an_operator_filters_opens_and_cancels_an_execution(self, page: Page, operator) -> None:
        execution = triggered_execution()
        failed = finished_execution(
            execution.batch,
            minutes_ago=60,
            state=ExecutionState.FAILED,
            business_count=3,
            items_count=12,
            attributed_count=9,
            failed_count=3,
            usage_usd="0.012345",
            error="Apify run FAILED: the actor ran out of memory",
        )
        log_in(page)

        page.goto("/dashboard/executions/")
        rows = page.get_by_test_id("execution-row")
        expect(rows).to_have_count(2)
        expect(rows.first).to_contain_text("pending")  # newest first
        expect(rows.first.get_by_role("link", name=f"#{execution.batch_id}")).to_have_attribute(
            "href", f"/dashboard/schedules/{execution.batch_id}/"
        )
        expect(rows.nth(1)).to_contain_text("ran out of memory")
        expect(rows.nth(1)).to_contain_text("$0.0123")
        screenshot(page, "executions")

        page.get_by_label("State").select_option("failed")
        page.get_by_role("button", name="Filter").click()
        assert "state=failed" in page.url
        expect(rows).to_have_count(1)
        expect(rows.first).to_contain_text("failed")
        expect(rows.first).to_contain_text("42.0 s")
        page.get_by_label("State").select_option("pending")
        page.get_by_role("button", name="Filter").click()
        expect(rows).to_have_count(1)

        rows.first.get_by_role("link").first.click()
        expect(page).to_have_url(
            f"{page.url.split('/dashboard/')[0]}/dashboard/executions/{execution.id}/"
        )
        expect(page.get_by_test_id("execution-state")).to_have_text("pending")
        expect(page.get_by_test_id("outcome-row")).to_have_count(3)
        business_link = page.get_by_test_id("outcome-row").first.get_by_role("link")
        assert business_link.get_attribute("href").startswith("/dashboard/businesses/")
        expect(page.get_by_text("Retry…")).to_have_count(0)  # not finished: no retry
        screenshot(page, "execution")

        page.get_by_text("Cancel this execution…").click()
        page.get_by_label("Reason (optional)").fill("stuck in the sandbox")
        page.get_by_role("button", name="Confirm cancel").click()

        expect(page.get_by_role("status")).to_contain_text("is cancelled")
        expect(page.get_by_test_id("execution-state")).to_have_text("cancelled")
        expect(page.get_by_test_id("execution-error")).to_contain_text("stuck in the sandbox")
        expect(page.get_by_text("Cancel this execution…")).to_have_count(0)
        event = AuditEvent.objects.get(action="execution.cancel")
        assert (event.actor, event.object_id) == ("operator", str(execution.id))
        assert (event.before, event.after) == ({"state": "pending"}, {"state": "cancelled"})
        assert event.reason == "stuck in the sandbox"

        # The finished execution offers Retry, which runs the batch again.
        page.goto(f"/dashboard/executions/{failed.id}/")
        expect(page.get_by_text("Cancel this execution…")).to_have_count(0)
        page.get_by_text("Retry…").click()
        page.get_by_role("button", name="Confirm retry").click()
        expect(page.get_by_role("status")).to_contain_text("Re-run started")
        assert AuditEvent.objects.filter(action="execution.retry", actor="operator").exists()
        assert Execution.objects.filter(batch=execution.batch, trigger="manual").count() == 2

    def test_a_refused_cancel_becomes_an_error_message(self, page: Page, operator) -> None:
        execution = triggered_execution()
        log_in(page)
        page.goto(f"/dashboard/executions/{execution.id}/")
        # Another operator cancels it first.
        Execution.objects.filter(id=execution.id).update(state=ExecutionState.SUCCEEDED)
        page.get_by_text("Cancel this execution…").click()
        page.get_by_role("button", name="Confirm cancel").click()
        expect(page.locator(".messages li.error")).to_contain_text(
            "Only a pending, starting or running execution can be cancelled."
        )
        assert not AuditEvent.objects.filter(action="execution.cancel").exists()


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("op", is_staff=True))
    return client


def _queries(client, url: str) -> int:
    client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def _add_executions(batch: Batch, count: int, start: int) -> None:
    Execution.objects.bulk_create(
        Execution(
            batch=batch,
            platform="google",
            scrape_type="reviews",
            trigger=Trigger.SCHEDULED,
            state=ExecutionState.SUCCEEDED if n % 3 else ExecutionState.FAILED,
            scheduled_for=timezone.now() - timedelta(minutes=n),
            duration_ms=1000 * n,
            error="boom" * (n % 2),
            usage_usd="0.01",
        )
        for n in range(start, start + count)
    )


def test_the_executions_page_costs_the_same_queries_with_10_and_200_rows(db, staff_client) -> None:
    execution = triggered_execution(businesses=1)
    _add_executions(execution.batch, 9, 1)
    few = _queries(staff_client, "/dashboard/executions/")
    _add_executions(execution.batch, 190, 10)
    many = _queries(staff_client, "/dashboard/executions/")
    assert Execution.objects.count() == 200
    assert few == many


def test_the_execution_page_costs_the_same_queries_with_10_and_200_businesses(
    db, staff_client
) -> None:
    execution = triggered_execution(businesses=10)
    url = reverse("dashboard:execution", kwargs={"execution_id": execution.id})
    few = _queries(staff_client, url)
    businesses_bulk_register(
        rows=[
            BusinessRow(team_id="alice", platform="google", external_id=place_id())
            for _ in range(190)
        ]
    )
    snapshot = batch_snapshot(batch_id=execution.batch_id, scrape_type="reviews")
    if len(snapshot) < 200:  # the group opened a second batch: snapshot them all anyway
        snapshot = [
            {"business_id": b.id, "team_id": b.team_id, "external_id": b.external_id}
            for b in Team.objects.get(team_id="alice").businesses.order_by("id")
        ]
    Execution.objects.filter(id=execution.id).update(business_snapshot=snapshot)
    many = _queries(staff_client, url)
    assert len(snapshot) == 200
    assert few == many


def test_bad_filters_and_unknown_executions_never_500(db, staff_client) -> None:
    execution = triggered_execution(businesses=1)
    response = staff_client.get("/dashboard/executions/?state=bogus&schedule_id=abc&page=99")
    assert response.status_code == 400  # the page with the bad fields named, and no rows
    assert b"Select a valid choice" in response.content
    assert b"<strong>Batch id</strong>" in response.content
    assert str(execution.id).encode() not in response.content
    past_the_end = staff_client.get("/dashboard/executions/?page=99")
    assert past_the_end.status_code == 200  # a page past the end is the last one
    assert str(execution.id).encode() in past_the_end.content
    filtered = staff_client.get(f"/dashboard/executions/?schedule_id={execution.batch_id + 1}")
    assert str(execution.id).encode() not in filtered.content

    unknown = "00000000-0000-0000-0000-000000000000"
    assert staff_client.get(f"/dashboard/executions/{unknown}/").status_code == 404
    assert staff_client.post(f"/dashboard/executions/{unknown}/cancel/").status_code == 404
    assert staff_client.post(f"/dashboard/executions/{unknown}/retry/").status_code == 404

    # Retry of an active execution is refused with a message, nothing changes.
    before = AuditEvent.objects.count()
    response = staff_client.post(
        f"/dashboard/executions/{execution.id}/retry/",
        {"next": f"/dashboard/executions/{execution.id}/"},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Only a finished execution can be run again" in response.content
    assert AuditEvent.objects.count() == before
