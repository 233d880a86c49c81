"""The retry queue: pending and dead first, and "Retry now" reopening a dead entry."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.services import team_upsert
from retry.models import RetryEntry
from schedules.services.assignment import schedule_groups_init
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot


@pytest.mark.django_db(transaction=True)
def test_an_operator_retries_a_dead_entry_now(page: Page, operator) -> None:
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="starter")[0]
    dead_one, done = register_google(alice, 2, name="Harbour Hotel")
    waiting = register_google(bob, 1, name="Mountain Inn")[0]
    dead = RetryEntry.objects.create(
        business=dead_one,
        scrape_type="reviews",
        state="dead",
        attempts=3,
        last_error="Apify run TIMED-OUT after 3600 s",
    )
    RetryEntry.objects.create(business=done, scrape_type="overview", state="succeeded", attempts=1)
    RetryEntry.objects.create(
        business=waiting,
        scrape_type="reviews",
        attempts=1,
        next_attempt_at=timezone.now() + timedelta(minutes=15),
        last_error="error item: place not found",
    )
    log_in(page)

    page.get_by_role("link", name="Retry queue", exact=True).click()
    rows = page.get_by_test_id("retry-queue").locator("tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.nth(0)).to_contain_text("pending")  # pending, then dead, then closed
    expect(rows.nth(1)).to_contain_text("dead")
    expect(rows.nth(2)).to_contain_text("succeeded")
    screenshot(page, "retry-queue")

    page.get_by_label("State").select_option("dead")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("TIMED-OUT")
    rows.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text("retry due now")
    assert "state=dead" in page.url  # back where the operator was

    page.get_by_label("State").select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(page.locator(f'tr[data-entry]:has-text("#{dead_one.id}")')).to_contain_text("pending")
    fresh = RetryEntry.objects.get(business=dead_one, state="pending")
    assert fresh.id != dead.id and fresh.scrape_type == "reviews"
    assert fresh.next_attempt_at is not None
    dead.refresh_from_db()
    assert dead.state == "dead"
    event = AuditEvent.objects.get(action="retry.force")
    assert (event.actor, event.object_id) == ("operator", str(fresh.id))


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def test_pages_need_staff(client, django_user_model, alice) -> None:
    entry = RetryEntry.objects.create(
        business=register_google(alice)[0], scrape_type="reviews", state="dead", attempts=3
    )
    response = client.get("/dashboard/retry-queue/")
    assert response.status_code == 302
    assert "/dashboard/login/" in response["Location"]
    assert client.post(f"/dashboard/retry-queue/{entry.id}/retry/").status_code == 302
    client.force_login(django_user_model.objects.create_user("viewer"))
    assert client.get("/dashboard/retry-queue/").status_code == 403
    assert client.post(f"/dashboard/retry-queue/{entry.id}/retry/").status_code == 403
    assert client.get(f"/dashboard/retry-queue/{entry.id}/retry/").status_code == 403
    assert list(RetryEntry.objects.values_list("state", flat=True)) == ["dead"]
    assert not AuditEvent.objects.exists()


def test_retry_now_is_post_only_and_a_running_entry_is_a_conflict(staff_client, alice) -> None:
    entry = RetryEntry.objects.create(
        business=register_google(alice)[0], scrape_type="reviews", state="running", attempts=1
    )
    assert staff_client.get(f"/dashboard/retry-queue/{entry.id}/retry/").status_code == 405
    response = staff_client.post(f"/dashboard/retry-queue/{entry.id}/retry/", follow=True)
    assert b'class="error"' in response.content
    assert RetryEntry.objects.get().state == "running"
    assert staff_client.post("/dashboard/retry-queue/999999/retry/").status_code == 404


def test_filters_are_the_selectors(staff_client, alice, bob) -> None:
    a = register_google(alice)[0]
    b = register_google(bob)[0]
    batch_id = a.mappings.get(scrape_type="reviews").batch_id
    RetryEntry.objects.create(business=a, scrape_type="reviews", state="dead", batch_id=batch_id)
    RetryEntry.objects.create(business=b, scrape_type="overview", state="pending")
    page = staff_client.get("/dashboard/retry-queue/?team=bob").context["page"]
    assert [e.business_id for e in page] == [b.id]
    page = staff_client.get("/dashboard/retry-queue/?scrape_type=reviews").context["page"]
    assert [e.business_id for e in page] == [a.id]
    page = staff_client.get(f"/dashboard/retry-queue/?batch={batch_id}").context["page"]
    assert [e.business_id for e in page] == [a.id]
    response = staff_client.get("/dashboard/retry-queue/?state=bogus")
    assert response.status_code == 400
    assert len(response.context["page"]) == 0


def test_the_queue_costs_the_same_whatever_its_size(staff_client, alice) -> None:
    def fill(count: int) -> None:
        for business in register_google(alice, count):
            RetryEntry.objects.create(business=business, scrape_type="reviews", state="dead")

    fill(10)
    with CaptureQueriesContext(connection) as small:
        staff_client.get("/dashboard/retry-queue/")
    fill(190)
    with CaptureQueriesContext(connection) as large:
        assert staff_client.get("/dashboard/retry-queue/").status_code == 200
    assert len(large.captured_queries) == len(small.captured_queries)
    with CaptureQueriesContext(connection) as paged:
        staff_client.get("/dashboard/retry-queue/?state=dead&page=4")
    assert len(paged.captured_queries) == len(small.captured_queries)
