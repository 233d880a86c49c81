"""Bulk actions of the lists: pause / resume batches, retry entries of the retry queue,
cancel executions. Checked rows, a required reason, a confirmation page listing what will
change, then the same services as the API (one audit event per object, with the reason); a
refused object is reported by name and the others stay done."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import Business
from businesses.services import team_upsert
from retry.models import RetryEntry
from schedules.models import Batch, BatchStatus, Execution, Trigger
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_pause
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.test_executions import finished_execution, triggered_execution

browser_db = pytest.mark.django_db(transaction=True)


def _three_google_batches() -> list[Batch]:
    schedule_groups_init()
    register_google(team_upsert(team_id="alice", tier="professional")[0], 2)
    register_google(team_upsert(team_id="bob", tier="starter")[0], 1, scrape_types=["reviews"])
    batches = list(Batch.objects.filter(business_count__gt=0).order_by("id"))
    assert len(batches) == 3
    return batches


def _confirm(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).click()


@browser_db
def test_pause_then_resume_selected_batches(page: Page, operator) -> None:
    first, second, third = _three_google_batches()
    batch_pause(batch_id=second.id, reason="earlier", actor="someone else")
    log_in(page)
    page.goto("/dashboard/schedules/?platform=google")
    bar = page.get_by_role("form", name="bulk actions")
    expect(bar.get_by_role("button", name="Pause selected…")).to_be_disabled()

    page.get_by_label("Select every row of this page").check()
    expect(bar).to_contain_text("3 selected")
    bar.get_by_label("Reason for the bulk action").fill("Apify maintenance window")
    bar.get_by_role("button", name="Pause selected…").click()

    expect(page.get_by_role("heading", name="Pause 2 batches?")).to_be_visible()
    rows = page.get_by_test_id("bulk-row")
    expect(rows).to_have_count(3)
    refused = page.locator("[data-testid=bulk-row].refused")
    expect(refused).to_contain_text(f"Batch {second.id}")
    expect(refused).to_contain_text("Only an active batch can be paused (this one is paused)")
    expect(page.get_by_test_id("bulk-reason")).to_have_text("Apify maintenance window")
    assert not AuditEvent.objects.filter(action="batch.pause", actor="operator").exists()
    screenshot(page, "bulk-confirm-pause")
    _confirm(page, "Confirm: pause 2 batches")

    assert page.url.endswith("/dashboard/schedules/?platform=google")  # back to the filter
    expect(page.locator(".messages .success")).to_contain_text("Paused 2 batches")
    expect(page.locator(".messages .error")).to_contain_text(
        f"Not paused: Batch {second.id} (google/{second.group.scrape_type} every"
    )
    events = AuditEvent.objects.filter(action="batch.pause", actor="operator")
    assert sorted(int(e.object_id) for e in events) == [first.id, third.id]
    assert {e.reason for e in events} == {"Apify maintenance window"}
    assert Batch.objects.get(id=second.id).paused_reason == "earlier"
    screenshot(page, "bulk-paused")

    page.get_by_label("Select every row of this page").check()
    bar.get_by_label("Reason for the bulk action").fill("window over")
    bar.get_by_role("button", name="Resume selected…").click()
    expect(page.get_by_role("heading", name="Resume 3 batches?")).to_be_visible()
    _confirm(page, "Confirm: resume 3 batches")
    expect(page.locator(".messages .success")).to_contain_text("Resumed 3 batches")
    assert set(Batch.objects.values_list("status", flat=True)) == {BatchStatus.ACTIVE}
    events = AuditEvent.objects.filter(action="batch.resume", actor="operator")
    assert {e.reason for e in events} == {"window over"} and events.count() == 3


@browser_db
def test_retry_selected_dead_entries(page: Page, operator) -> None:
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    harbour, mountain, lake, spa = register_google(alice, 4, name="Hotel")
    Business.objects.filter(id=harbour.id).update(name="Harbour Hotel")
    Business.objects.filter(id=mountain.id).update(name="Mountain Inn")
    dead_one = RetryEntry.objects.create(
        business=harbour, scrape_type="reviews", state="dead", attempts=3, last_error="TIMED-OUT"
    )
    dead_two = RetryEntry.objects.create(
        business=mountain, scrape_type="reviews", state="dead", attempts=3
    )
    done = RetryEntry.objects.create(
        business=lake, scrape_type="reviews", state="succeeded", next_attempt_at=timezone.now()
    )
    replaced = RetryEntry.objects.create(business=spa, scrape_type="reviews", state="dead")
    newer = RetryEntry.objects.create(business=spa, scrape_type="reviews", state="running")
    log_in(page)
    page.goto("/dashboard/retry-queue/?platform=google")

    # Closed and running entries offer nothing: no checkbox, no "Retry now", no next attempt.
    for entry in (done, replaced, newer):
        row = page.locator(f"tr[data-entry='{entry.id}']")
        expect(row.locator("input[type=checkbox]")).to_have_count(0)
        expect(row.get_by_role("button", name="Retry now")).to_have_count(0)
    expect(page.locator(f"tr[data-entry='{done.id}']").get_by_test_id("next-attempt")).to_have_text(
        "—"
    )
    expect(page.locator(f"tr[data-entry='{replaced.id}']")).to_contain_text(
        f"replaced by #{newer.id}"
    )
    screenshot(page, "retry-queue-bulk")

    page.get_by_label("Select every row of this page").check()
    bar = page.get_by_role("form", name="bulk actions")
    expect(bar).to_contain_text("2 selected")
    bar.get_by_label("Reason for the bulk action").fill("actor fixed upstream")
    bar.get_by_role("button", name="Retry selected now…").click()
    expect(page.get_by_role("heading", name="Retry 2 retry entries?")).to_be_visible()
    # Meanwhile another operator deactivates one of the businesses.
    Business.objects.filter(id=mountain.id).update(active=False)
    _confirm(page, "Confirm: retry 2 retry entries")

    expect(page.locator(".messages .success")).to_contain_text(
        f"Retried 1 retry entry: Entry #{dead_one.id}: Harbour Hotel"
    )
    expect(page.locator(".messages .error")).to_contain_text(
        f"Not retried: Entry #{dead_two.id}: Mountain Inn #{mountain.id} (google/reviews): "
        "An inactive business is not scraped"
    )
    fresh = RetryEntry.objects.get(business=harbour, state="pending")
    assert fresh.next_attempt_at <= timezone.now()
    assert RetryEntry.objects.get(id=dead_one.id).state == "dead"  # kept as history
    event = AuditEvent.objects.get(action="retry.force")
    assert (event.actor, event.reason, event.object_id) == (
        "operator",
        "actor fixed upstream",
        str(fresh.id),
    )
    expect(page.locator(f"tr[data-entry='{dead_one.id}']")).to_contain_text(
        f"replaced by #{fresh.id}"
    )


@browser_db
def test_cancel_selected_executions(page: Page, operator) -> None:
    active = triggered_execution(team_id="alice", businesses=1)
    running = finished_execution(active.batch, minutes_ago=3, state=ExecutionState.RUNNING)
    done = finished_execution(active.batch, minutes_ago=9, state=ExecutionState.SUCCEEDED)
    log_in(page)
    page.goto("/dashboard/executions/?platform=google")
    expect(page.locator(f"tr[data-execution='{done.id}'] input[type=checkbox]")).to_have_count(0)

    page.get_by_label(f"Select execution {active.id}").check()
    page.get_by_label(f"Select execution {running.id}").check()
    bar = page.get_by_role("form", name="bulk actions")
    bar.get_by_label("Reason for the bulk action").fill("wrong Apify account")
    bar.get_by_role("button", name="Cancel selected…").click()
    expect(page.get_by_role("heading", name="Cancel 2 executions?")).to_be_visible()
    # The running one finishes before the operator confirms.
    Execution.objects.filter(id=running.id).update(state=ExecutionState.SUCCEEDED)
    _confirm(page, "Confirm: cancel 2 executions")

    expect(page.locator(".messages .success")).to_contain_text("Cancelled 1 execution")
    expect(page.locator(".messages .error")).to_contain_text(
        f"Not cancelled: Execution {str(running.id)[:8]} (scheduled, batch #{active.batch_id}"
    )
    expect(page.locator(".messages .error")).to_contain_text(
        "Only a pending, starting or running execution can be cancelled."
    )
    states = dict(Execution.objects.values_list("id", "state"))
    assert states[active.id] == ExecutionState.CANCELLED
    assert states[running.id] == states[done.id] == ExecutionState.SUCCEEDED
    event = AuditEvent.objects.get(action="execution.cancel")
    assert (event.object_id, event.actor, event.reason) == (
        str(active.id),
        "operator",
        "wrong Apify account",
    )
    expect(page.locator(f"tr[data-execution='{active.id}'] .badge")).to_have_text("cancelled")


# --- Fast: what the server refuses, and the confirmation's cost ----------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def test_no_reason_no_rows_or_bad_ids_do_nothing(db, staff_client) -> None:
    batch = _three_google_batches()[0]
    url = "/dashboard/schedules/bulk/"
    for form, error in (
        ({"action": "pause", "ids": [batch.id], "confirmed": "1"}, "reason: Say why"),
        ({"action": "pause", "reason": "r", "confirmed": "1"}, "ids: Select at least one row."),
        ({"action": "pause", "ids": ["x1"], "reason": "r"}, "ids: “x1” is not a row id."),
        ({"action": "delete", "ids": [batch.id], "reason": "r"}, "action: Select a valid"),
    ):
        response = staff_client.post(url, {**form, "next": "/dashboard/schedules/"}, follow=True)
        assert response.redirect_chain[-1][0] == "/dashboard/schedules/"
        assert error in response.content.decode(), form
    too_many = staff_client.post(url, {"action": "pause", "reason": "r", "ids": range(1, 502)})
    assert too_many.status_code == 302
    assert not AuditEvent.objects.exists()
    assert set(Batch.objects.values_list("status", flat=True)) == {BatchStatus.ACTIVE}


def test_the_confirmation_changes_nothing_and_a_foreign_next_is_ignored(db, staff_client) -> None:
    batches = _three_google_batches()
    ids = [b.id for b in batches]
    response = staff_client.post(
        "/dashboard/schedules/bulk/", {"action": "pause", "ids": ids, "reason": "r"}
    )
    assert response.status_code == 200
    assert response.context["applies"] == 3
    assert not AuditEvent.objects.exists()
    response = staff_client.post(
        "/dashboard/schedules/bulk/",
        {"action": "pause", "ids": ids, "reason": "r", "confirmed": "1", "next": "https://x.org/"},
    )
    assert response["Location"] == "/dashboard/schedules/"
    assert AuditEvent.objects.filter(action="batch.pause").count() == 3


def _confirmation_queries(client, url: str, action: str, ids: list) -> int:
    form = {"action": action, "ids": ids, "reason": "counting"}
    client.post(url, form)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(url, form)
    assert response.status_code == 200
    assert len(response.context["rows"]) == len(ids)
    return len(captured)


def _executions(batch: Batch, count: int) -> list:
    return [
        e.id
        for e in Execution.objects.bulk_create(
            Execution(
                batch=batch,
                platform="google",
                scrape_type="reviews",
                trigger=Trigger.SCHEDULED,
                scheduled_for=timezone.now() - timedelta(minutes=n),
            )
            for n in range(count)
        )
    ]


def test_each_confirmation_costs_the_same_with_3_and_30_rows(db, staff_client) -> None:
    schedule_groups_init()
    businesses = register_google(team_upsert(team_id="alice", tier="professional")[0], 30)
    entries = [
        RetryEntry.objects.create(business=b, scrape_type="reviews", state="dead").id
        for b in businesses
    ]
    batch = Batch.objects.filter(business_count__gt=0).first()
    executions = _executions(batch, 30)
    groups = list(Batch.objects.values_list("group_id", flat=True).distinct())
    batches = [
        b.id
        for b in Batch.objects.bulk_create(
            Batch(
                group_id=groups[n % len(groups)],
                batch_index=100 + n,
                capacity=100,
                next_run_at=timezone.now(),
            )
            for n in range(30)
        )
    ]
    cases = [
        ("/dashboard/schedules/bulk/", "pause", batches),
        ("/dashboard/retry-queue/bulk/", "retry", entries),
        ("/dashboard/executions/bulk/", "cancel", executions),
    ]
    for url, action, ids in cases:
        few = _confirmation_queries(staff_client, url, action, ids[:3])
        many = _confirmation_queries(staff_client, url, action, ids)
        assert few == many, url
