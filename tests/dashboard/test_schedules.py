"""The schedules pages: the list of batches, one batch's detail, and the operator's controls.

Browser tests drive Chromium through a real login; the fast tests use Django's test client for
access control and query counts.
"""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.services import team_upsert
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, Execution, ScheduleGroup, Trigger
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_pause
from tests.conftest import register_google
from tests.dashboard.conftest import PASSWORD, log_in, screenshot

browser_db = pytest.mark.django_db(transaction=True)


def _google_reviews_batch() -> Batch:
    return Batch.objects.get(
        group__platform="google", group__scrape_type="reviews", group__interval_minutes=720
    )


def _seed(businesses: int = 3) -> Batch:
    schedule_groups_init()
    register_google(team_upsert(team_id="alice", tier="professional")[0], businesses)
    return _google_reviews_batch()


# --- In a real browser --------------------------------------------------------------------


@browser_db
def test_the_schedules_page_lists_batches_with_utilisation(page: Page, operator) -> None:
    batch = _seed(3)
    log_in(page)

    page.goto("/dashboard/schedules/")

    row = page.locator(f"tr[data-batch='{batch.id}']")
    expect(row).to_contain_text("google")
    expect(row).to_contain_text("reviews")
    expect(row).to_contain_text("12 h")
    expect(row.locator(".utilisation")).to_have_text(f"3 / {batch.capacity}")
    expect(row.locator(".badge.active")).to_be_visible()
    expect(page.get_by_text("catch-up window (10 min)")).to_be_visible()
    # Filters are a plain GET form.
    page.get_by_label("Scrape type").select_option("overview")
    page.get_by_role("button", name="Filter").click()
    assert "scrape_type=overview" in page.url
    expect(page.locator(f"tr[data-batch='{batch.id}']")).to_have_count(0)
    expect(page.locator("tr[data-batch]")).to_have_count(1)  # the overview batch
    # More schedules and a paused batch, for a representative screenshot.
    register_google(team_upsert(team_id="bob", tier="starter")[0], 5)
    register_google(team_upsert(team_id="charlie", tier="free")[0], 1)
    batch_pause(batch_id=batch.id, reason="Apify actor upgrade", actor="operator")
    page.goto("/dashboard/schedules/")
    expect(page.locator("tr[data-batch]")).to_have_count(6)
    screenshot(page, "schedules")


@browser_db
def test_pause_with_a_reason_then_resume(page: Page, operator) -> None:
    batch = _seed(2)
    log_in(page)
    page.goto("/dashboard/schedules/")
    row = page.locator(f"tr[data-batch='{batch.id}']")

    row.get_by_text("Pause…").click()
    row.get_by_label(f"Reason for pausing batch {batch.id}").fill("Apify maintenance window")
    row.get_by_role("button", name=f"Pause batch {batch.id}").click()

    expect(page.locator(".messages")).to_contain_text("paused: Apify maintenance window")
    row = page.locator(f"tr[data-batch='{batch.id}']")
    expect(row.locator(".badge")).to_have_text("paused")
    expect(row).to_contain_text("Apify maintenance window")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PAUSED
    assert batch.paused_reason == "Apify maintenance window"
    event = AuditEvent.objects.get(action="batch.pause")
    assert (event.actor, event.reason, event.object_id) == (
        "operator",
        "Apify maintenance window",
        str(batch.id),
    )

    page.goto(f"/dashboard/schedules/{batch.id}/")
    expect(page.get_by_test_id("batch-status")).to_have_text("paused")
    expect(page.get_by_test_id("paused-reason")).to_contain_text("Apify maintenance window")

    page.get_by_role("button", name=f"Resume batch {batch.id}").click()
    expect(page.locator(".messages")).to_contain_text("resumed")
    expect(page.get_by_test_id("batch-status")).to_have_text("active")
    expect(page.get_by_test_id("paused-reason")).to_have_count(0)
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACTIVE
    assert AuditEvent.objects.filter(action="batch.resume", actor="operator").count() == 1


@browser_db
def test_a_pause_without_a_reason_is_refused(page: Page, operator) -> None:
    batch = _seed(1)
    log_in(page)
    page.goto(f"/dashboard/schedules/{batch.id}/")
    page.get_by_text("Pause…").click()
    page.get_by_label(f"Reason for pausing batch {batch.id}").fill("   ")
    page.get_by_role("button", name=f"Pause batch {batch.id}").click()

    expect(page.locator(".messages .error")).to_contain_text("reason")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="batch.pause").exists()


@browser_db
def test_trigger_now_shows_the_execution_and_the_next_ten_runs(page: Page, operator) -> None:
    batch = _seed(4)
    log_in(page)
    page.goto(f"/dashboard/schedules/{batch.id}/")
    expect(page.get_by_test_id("next-runs").locator("li")).to_have_count(10)
    expect(page.get_by_text("No execution yet.")).to_be_visible()

    page.get_by_role("button", name=f"Trigger batch {batch.id} now").click()

    expect(page.locator(".messages")).to_contain_text(f"Batch {batch.id} triggered")
    execution = Execution.objects.get(batch=batch)
    assert execution.trigger == Trigger.MANUAL
    row = page.locator(f"tr[data-execution='{execution.id}']")
    expect(row).to_contain_text("manual")
    expect(row.locator(".badge")).to_have_text(execution.state)
    assert AuditEvent.objects.filter(action="batch.trigger", actor="operator").count() == 1
    # Its businesses, with their team.
    expect(page.locator("#businesses tbody tr")).to_have_count(4)
    expect(page.locator("#businesses")).to_contain_text("alice")
    screenshot(page, "schedule-detail")


@browser_db
def test_rebalance_asks_for_confirmation_and_reports(page: Page, operator) -> None:
    _seed(2)
    log_in(page)
    page.goto("/dashboard/schedules/?platform=google")
    dialogs: list[str] = []

    def accept(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.get_by_role("button", name="Rebalance").click()

    expect(page.locator(".messages")).to_contain_text("Rebalanced")
    assert dialogs and "google" in dialogs[0]
    assert "platform=google" in page.url  # back where the operator was


# --- Fast: access control and query counts ------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True)
    client.force_login(user)
    return client


@pytest.fixture
def batch(db) -> Batch:
    return _seed(2)


def _pages(batch: Batch) -> list[str]:
    return [reverse("dashboard:schedules"), reverse("dashboard:schedule", args=[batch.id])]


def _actions(batch: Batch) -> list[tuple[str, dict]]:
    return [
        (reverse("dashboard:schedule-pause", args=[batch.id]), {"reason": "nope"}),
        (reverse("dashboard:schedule-trigger", args=[batch.id]), {}),
        (reverse("dashboard:schedules-rebalance"), {}),
        (reverse("dashboard:schedules-consolidate"), {}),
    ]


def test_anonymous_visitors_are_sent_to_the_login_page(client, batch: Batch) -> None:
    login = reverse("dashboard:login")
    responses = [(url, client.get(url)) for url in _pages(batch)]
    responses += [(url, client.post(url, data)) for url, data in _actions(batch)]
    for url, response in responses:
        assert response.status_code == 302, url
        assert response["Location"].startswith(login), url
    assert not AuditEvent.objects.exists()


def test_a_non_staff_user_gets_403_and_changes_nothing(
    client, django_user_model, batch: Batch
) -> None:
    client.force_login(django_user_model.objects.create_user("viewer", password=PASSWORD))
    for url in _pages(batch):
        assert client.get(url).status_code == 403, url
    for url, data in _actions(batch):
        assert client.post(url, data).status_code == 403, url
    Batch.objects.filter(id=batch.id).update(status=BatchStatus.PAUSED)
    resume = reverse("dashboard:schedule-resume", args=[batch.id])
    assert client.post(resume).status_code == 403

    batch.refresh_from_db()
    assert batch.status == BatchStatus.PAUSED  # still paused: resume was refused
    assert not Execution.objects.exists()
    assert not AuditEvent.objects.exists()


def test_actions_are_post_only(staff_client, batch: Batch) -> None:
    for url, _ in _actions(batch):
        assert staff_client.get(url).status_code == 405, url
    assert not AuditEvent.objects.exists()


def test_a_staff_pause_goes_through_the_service(staff_client, batch: Batch) -> None:
    url = reverse("dashboard:schedule-pause", args=[batch.id])
    detail = reverse("dashboard:schedule", args=[batch.id])
    response = staff_client.post(url, {"reason": "rate limited", "next": detail})
    assert response.status_code == 302 and response["Location"] == detail
    event = AuditEvent.objects.get(action="batch.pause")
    assert (event.actor, event.reason) == ("operator", "rate limited")
    # A second pause is a conflict: an error message, nothing written.
    response = staff_client.post(url, {"reason": "again", "next": detail}, follow=True)
    assert "Only an active batch can be paused" in response.content.decode()
    assert AuditEvent.objects.filter(action="batch.pause").count() == 1


def test_an_unknown_batch_is_a_404(staff_client, batch: Batch) -> None:
    assert staff_client.get(reverse("dashboard:schedule", args=[999_999])).status_code == 404
    url = reverse("dashboard:schedule-trigger", args=[999_999])
    assert staff_client.post(url).status_code == 404


def test_invalid_filters_are_a_400_naming_them(staff_client, batch: Batch) -> None:
    response = staff_client.get(reverse("dashboard:schedules"), {"interval": "abc", "page": "x"})
    assert response.status_code == 400
    errors = dict(response.context["form"].error_list())
    assert set(errors) == {"Interval", "Page"}
    assert response.context["batches"] == []  # nothing listed, nothing to act on by mistake


def _add_batches(count: int, first_index: int) -> None:
    """`count` more batches spread over the groups, a third paused, each with an execution."""
    groups = list(ScheduleGroup.objects.order_by("id"))
    now = db_now()
    made = Batch.objects.bulk_create(
        Batch(
            group=group,
            batch_index=first_index + n,
            capacity=100,
            business_count=n % 100,
            next_run_at=now + timedelta(minutes=n),
            status=BatchStatus.PAUSED if n % 3 == 0 else BatchStatus.ACTIVE,
            paused_reason="load test" if n % 3 == 0 else "",
        )
        for n, group in zip(range(count), itertools.cycle(groups), strict=False)
    )
    Execution.objects.bulk_create(
        Execution(
            batch=b,
            platform=b.group.platform,
            scrape_type=b.group.scrape_type,
            trigger=Trigger.SCHEDULED,
            state="succeeded",
            scheduled_for=now,
        )
        for b in made
    )


def _add_executions(batch: Batch, count: int, days_back: int = 0) -> None:
    now = db_now() - timedelta(days=days_back)
    Execution.objects.bulk_create(
        Execution(
            batch=batch,
            platform="google",
            scrape_type="reviews",
            trigger=Trigger.SCHEDULED,
            state="failed" if n % 4 == 0 else "succeeded",
            scheduled_for=now - timedelta(hours=n),
            duration_ms=1000 * n,
            items_count=n,
            error="boom" if n % 4 == 0 else "",
        )
        for n in range(count)
    )


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def test_the_schedules_page_costs_the_same_queries_for_10_and_200_batches(
    staff_client, batch: Batch
) -> None:
    url = reverse("dashboard:schedules")
    _add_batches(8, first_index=100)
    assert Batch.objects.count() == 10
    few = _queries(staff_client, url)

    _add_batches(190, first_index=200)
    assert Batch.objects.count() == 200
    many = _queries(staff_client, url)
    assert few == many
    assert _queries(staff_client, url + "?page=3&status=active") == many


def test_the_detail_page_costs_the_same_queries_for_10_and_200_rows(staff_client) -> None:
    schedule_groups_init()
    team = team_upsert(team_id="alice", tier="professional")[0]
    register_google(team, 10)
    batch = _google_reviews_batch()
    _add_executions(batch, 10)
    url = reverse("dashboard:schedule", args=[batch.id])
    few = _queries(staff_client, url)

    register_google(team_upsert(team_id="bob", tier="professional")[0], 190)
    _add_executions(batch, 190, days_back=30)
    batch.refresh_from_db()
    assert batch.business_count == 200
    many = _queries(staff_client, url)
    assert few == many
    assert _queries(staff_client, url + "?bpage=4&epage=2") == many
