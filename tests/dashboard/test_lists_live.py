"""The list pages refresh themselves: htmx polls each list's rows (the same URL, filters and
page included) and the page shows a change made in the database without a reload; a poll is
skipped while a row is checked, so a selection survives; the scroll position stays. And each
list costs the same number of queries with 3 rows as with 30, page and partial alike."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import Business, ScrapeOutcome, Team
from businesses.services import custom_interval_set, team_upsert
from retry.models import RetryEntry
from schedules.models import Batch, BatchStatus, Execution, Trigger
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_pause
from schedules.services.executions import execution_cancel
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.test_executions import triggered_execution
from tests.dashboard.test_notifications import alert

browser_db = pytest.mark.django_db(transaction=True)
LIVE = {"HX-Request": "true", "HX-Target": "live-rows"}  # what htmx sends when it polls


@pytest.fixture
def fast_polls(settings) -> None:
    settings.DASHBOARD_POLL_SECONDS = 1


def _mark(page: Page) -> None:
    """A flag in the page's window: it survives an htmx swap, not a reload."""
    page.evaluate("window.notReloaded = true")


def _not_reloaded(page: Page) -> bool:
    return page.evaluate("window.notReloaded === true")


def _seed_schedules() -> tuple[Batch, Batch]:
    schedule_groups_init()
    register_google(team_upsert(team_id="alice", tier="professional")[0], 2)
    register_google(team_upsert(team_id="bob", tier="starter")[0], 1, scrape_types=["reviews"])
    reviews = Batch.objects.filter(group__scrape_type="reviews", business_count__gt=0)
    first, second = reviews.order_by("id")
    return first, second


# --- In a real browser --------------------------------------------------------------------


@browser_db
def test_the_schedules_list_shows_a_pause_without_a_reload_and_keeps_its_filter(
    page: Page, operator, fast_polls
) -> None:
    first, second = _seed_schedules()
    log_in(page)
    page.goto("/dashboard/schedules/?scrape_type=reviews")
    rows = page.locator("tr[data-batch]")
    expect(rows).to_have_count(2)
    expect(page.locator("[data-live-status]")).to_have_text("Live · refreshes every 1 s")
    _mark(page)

    batch_pause(batch_id=first.id, reason="Apify maintenance", actor="someone else")

    row = page.locator(f"tr[data-batch='{first.id}']")
    expect(row.locator(".badge").first).to_have_text("paused")
    expect(row).to_contain_text("Apify maintenance")
    expect(rows).to_have_count(2)  # still only the reviews batches: the filter stayed
    assert page.url.endswith("/dashboard/schedules/?scrape_type=reviews")
    assert _not_reloaded(page)

    # A checked row pauses the refresh: the selection is never dropped by a poll.
    page.get_by_label(f"Select batch #{second.id}").check()
    expect(page.locator("[data-live-status]")).to_have_text(
        "Live refresh paused: rows are selected"
    )
    batch_pause(batch_id=second.id, reason="quota", actor="someone else")
    page.wait_for_timeout(2500)  # two polls' worth
    second_row = page.locator(f"tr[data-batch='{second.id}']")
    expect(second_row.locator(".badge").first).to_have_text("active")
    expect(page.get_by_label(f"Select batch #{second.id}")).to_be_checked()
    page.get_by_label(f"Select batch #{second.id}").uncheck()
    expect(second_row.locator(".badge").first).to_have_text("paused")
    assert _not_reloaded(page)


@browser_db
def test_the_businesses_list_shows_a_new_outcome_and_keeps_the_scroll(
    page: Page, operator, fast_polls
) -> None:
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    oldest, *_ = register_google(alice, 40, name="Hotel")
    register_google(team_upsert(team_id="bob", tier="free")[0], 2)
    log_in(page)
    page.goto("/dashboard/businesses/?team=alice")
    expect(page.get_by_test_id("row-count")).to_have_text("40 rows")
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    scrolled = page.evaluate("window.scrollY")
    assert scrolled > 400
    _mark(page)

    ScrapeOutcome.objects.create(
        business=oldest,
        scrape_type="reviews",
        last_scraped_at=timezone.now(),
        last_status="failed",
        last_error="Apify run FAILED",
    )

    cell = page.locator(f"tr[data-business='{oldest.id}'] [data-scrape-type=reviews]")
    expect(cell).to_have_text("reviews: failed")  # the oldest is the last row, newest first
    assert abs(page.evaluate("window.scrollY") - scrolled) < 5
    expect(page.get_by_test_id("row-count")).to_have_text("40 rows")  # bob's stay out
    assert _not_reloaded(page)


@browser_db
def test_the_teams_retry_executions_and_audit_lists_refresh_themselves(
    page: Page, operator, fast_polls
) -> None:
    execution = triggered_execution(team_id="alice", businesses=1)
    business = Business.objects.get(team_id="alice")
    bob = team_upsert(team_id="bob", tier="starter")[0]
    entry = RetryEntry.objects.create(
        business=business,
        scrape_type="reviews",
        next_attempt_at=timezone.now() + timedelta(minutes=5),
    )
    RetryEntry.objects.create(business=register_google(bob)[0], scrape_type="reviews")
    log_in(page)

    page.goto("/dashboard/teams/?q=ali")
    _mark(page)
    register_google(Team.objects.get(team_id="alice"), 2)
    expect(page.locator("tr[data-team=alice] td.num")).to_have_text("3")
    expect(page.locator("tr[data-team]")).to_have_count(1)
    assert _not_reloaded(page)

    page.goto("/dashboard/retry-queue/?team=alice")
    rows = page.get_by_test_id("retry-queue").locator("tbody tr")
    expect(rows).to_have_count(1)
    _mark(page)
    RetryEntry.objects.filter(id=entry.id).update(state="running", attempts=1)
    expect(rows.first.get_by_test_id("next-attempt")).to_have_text("running now")
    expect(rows.first.get_by_role("button", name="Retry now")).to_have_count(0)
    expect(rows).to_have_count(1)
    assert _not_reloaded(page)

    page.goto("/dashboard/executions/?platform=google&trigger=manual")
    row = page.locator(f"tr[data-execution='{execution.id}']")
    expect(row.locator(".badge")).to_have_text("pending")
    _mark(page)
    execution_cancel(execution_id=execution.id, actor="someone else", reason="wrong batch")
    expect(row.locator(".badge")).to_have_text("cancelled")
    expect(row).to_contain_text("wrong batch")
    assert _not_reloaded(page)
    screenshot(page, "executions-live")

    page.goto("/dashboard/audit-log/?action=execution.cancel")
    audit_rows = page.get_by_test_id("audit-row")
    expect(audit_rows).to_have_count(1)
    _mark(page)
    batch_pause(batch_id=execution.batch_id, reason="not this one", actor="ops")  # filtered out
    execution_cancel(
        execution_id=Execution.objects.create(
            batch=execution.batch,
            platform="google",
            scrape_type="reviews",
            trigger=Trigger.MANUAL,
            scheduled_for=timezone.now(),
        ).id,
        actor="ops",
        reason="second one",
    )
    expect(audit_rows).to_have_count(2)
    expect(audit_rows.first).to_contain_text("second one")
    assert _not_reloaded(page)


@browser_db
def test_the_alert_history_refreshes_itself(page: Page, operator) -> None:
    log_in(page)
    page.goto("/dashboard/notifications/")
    expect(page.get_by_test_id("alert-count")).to_have_text("0 alerts")
    _mark(page)
    alert("[CRITICAL] health check queues", channels={})
    history = page.get_by_test_id("alert-history").locator("tbody tr")
    expect(history.first).to_contain_text("health check queues", timeout=12_000)  # 5 s polls
    expect(page.get_by_test_id("alert-count")).to_have_text("1 alert")
    assert _not_reloaded(page)


@browser_db
def test_a_poll_after_the_session_ended_goes_to_the_login_page(
    page: Page, operator, fast_polls
) -> None:
    log_in(page)
    page.goto("/dashboard/teams/?q=x")
    Session.objects.all().delete()  # logged out elsewhere, or expired
    expect(page).to_have_url(re.compile(r"/dashboard/login/\?next=/dashboard/teams/%3Fq%3Dx$"))
    expect(page.get_by_role("heading", name="Log in")).to_have_count(1)


# --- Fast: a constant number of queries, 3 rows or 30 -------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("op", is_staff=True))
    return client


def _queries(client, url: str, **headers: str) -> int:
    client.get(url, headers=headers)  # warm the session
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    assert response.status_code == 200, url
    if headers:
        assert b"<html" not in response.content  # the rows' partial alone
        assert response["Vary"].count("HX-Request") == 1
    return len(captured)


def _grow(count: int, start: int) -> None:
    """`count` more of every kind of row the lists show, each kind in several states."""
    now = timezone.now()
    team = team_upsert(team_id=f"team-{start}", tier="professional")[0]
    custom_interval_set(team=team, interval_minutes=60, platform="google", reason="pilot")
    for n in range(1, count):
        team_upsert(team_id=f"team-{start + n}", tier="free")
    businesses = register_google(team, count)
    ScrapeOutcome.objects.bulk_create(
        ScrapeOutcome(
            business=b,
            scrape_type="reviews",
            last_scraped_at=now,
            last_status="failed" if n % 2 else "succeeded",
        )
        for n, b in enumerate(businesses)
    )
    Business.objects.filter(id__in=[b.id for b in businesses[::2]]).update(last_status="failed")
    states = ["dead", "pending", "running", "succeeded"]
    RetryEntry.objects.bulk_create(
        RetryEntry(
            business=b,
            scrape_type="reviews",
            state=states[n % 4],
            next_attempt_at=now,
            batch=b.mappings.first().batch,
        )
        for n, b in enumerate(businesses)
    )
    batch = Batch.objects.filter(business_count__gt=0).first()
    Execution.objects.bulk_create(
        Execution(
            batch=batch,
            platform="google",
            scrape_type="reviews",
            trigger=Trigger.SCHEDULED,
            state=[ExecutionState.PENDING, ExecutionState.SUCCEEDED][n % 2],
            scheduled_for=now - timedelta(minutes=n),
        )
        for n in range(count)
    )
    groups = list(Batch.objects.values_list("group_id", flat=True).distinct())
    Batch.objects.bulk_create(
        Batch(
            group_id=groups[n % len(groups)],
            batch_index=1000 + start + n,
            capacity=100,
            next_run_at=now,
            status=[BatchStatus.ACTIVE, BatchStatus.PAUSED][n % 2],
        )
        for n in range(count)
    )
    AuditEvent.objects.bulk_create(
        AuditEvent(actor="op", action=f"thing.{n % 3}", object_type="schedules.batch", object_id=n)
        for n in range(count)
    )


LIST_URLS = [
    "/dashboard/schedules/",
    "/dashboard/schedules/?status=active&page=1",
    "/dashboard/teams/",
    "/dashboard/businesses/",
    "/dashboard/businesses/?status=failed",
    "/dashboard/retry-queue/",
    "/dashboard/retry-queue/?state=dead",
    "/dashboard/executions/",
    "/dashboard/audit-log/",
]


def _costs(client) -> dict[str, tuple[int, int]]:
    """url → (queries of the page, queries of its live partial)."""
    return {url: (_queries(client, url), _queries(client, url, **LIVE)) for url in LIST_URLS}


def test_every_list_costs_the_same_queries_with_3_and_30_rows(db, staff_client) -> None:
    schedule_groups_init()
    _grow(3, start=0)
    few = _costs(staff_client)
    _grow(27, start=100)
    assert Business.objects.count() == 30 and RetryEntry.objects.count() == 30
    many = _costs(staff_client)
    print(many)  # the figures, with -s
    assert many == few
