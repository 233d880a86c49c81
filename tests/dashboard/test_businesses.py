"""Businesses pages: search across teams, a business's details, reviews and a forced retry."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import Business, ReviewItem, ScrapeOutcome
from businesses.services import business_register, team_upsert
from retry.models import RetryEntry
from schedules.services.assignment import schedule_groups_init
from tests.conftest import place_id, register_google
from tests.dashboard.conftest import log_in, screenshot


def _reviews(business: Business, count: int) -> None:
    ReviewItem.objects.bulk_create(
        ReviewItem(
            business=business,
            platform_item_id=f"r{n}",
            payload={"text": f"Review number {n}: lovely staff", "stars": 1 + n % 5},
        )
        for n in range(count)
    )


@pytest.mark.django_db(transaction=True)
def test_an_operator_finds_a_business_and_forces_a_retry(page: Page, operator) -> None:
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="starter")[0]
    cafe = business_register(
        team=alice, platform="google", external_id=place_id(), name="Café Azur"
    )
    business_register(team=bob, platform="google", external_id=place_id(), name="Bistro Nord")
    register_google(alice, 2, name="Bakery")
    Business.objects.filter(id=cafe.id).update(
        last_status="failed", last_error="Apify run FAILED: actor crashed with exit code 1"
    )
    ScrapeOutcome.objects.create(
        business=cafe, scrape_type="reviews", last_scraped_at=timezone.now(), last_status="failed"
    )
    _reviews(cafe, 25)
    log_in(page)

    page.get_by_role("link", name="Businesses", exact=True).click()
    expect(page.get_by_test_id("businesses").locator("tbody tr")).to_have_count(4)
    screenshot(page, "businesses")
    page.get_by_label("Search").fill("azur")
    page.get_by_role("button", name="Search").click()
    rows = page.get_by_test_id("businesses").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Café Azur")
    expect(rows.locator("[data-scrape-type=reviews]")).to_have_text("reviews: failed")
    expect(rows.locator("[data-scrape-type=overview]")).to_have_text("overview: never")
    page.get_by_label("Search").fill("")
    page.get_by_label("Team", exact=True).fill("bob")
    page.get_by_role("button", name="Search").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("Bistro Nord")

    page.goto(f"/dashboard/businesses/{cafe.id}/")
    expect(page.get_by_test_id("reviews").locator("tbody tr")).to_have_count(20)
    expect(page.get_by_test_id("reviews")).to_contain_text("Review number 24")
    page.get_by_text("Force retry…").click()
    form = page.get_by_role("form", name="force retry")
    expect(form.get_by_label("reviews")).to_be_checked()  # every scheduled type, to start with
    expect(form.get_by_label("overview")).to_be_checked()
    form.get_by_label("Reason").fill("actor fixed upstream")
    screenshot(page, "business-force-retry")
    form.get_by_role("button", name="Retry now").click()
    expect(page.get_by_role("status")).to_contain_text("retry due now")
    expect(page.get_by_test_id("retry-entries").get_by_text("pending")).to_have_count(2)
    screenshot(page, "business")
    assert RetryEntry.objects.filter(business=cafe, state="pending").count() == 2
    assert set(AuditEvent.objects.values_list("action", "actor", "reason")) == {
        ("retry.force", "operator", "actor fixed upstream")
    }


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def test_pages_need_staff(client, django_user_model, alice) -> None:
    business = register_google(alice)[0]
    urls = ("/dashboard/businesses/", f"/dashboard/businesses/{business.id}/")
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302
        assert "/dashboard/login/" in response["Location"]
    client.force_login(django_user_model.objects.create_user("viewer"))
    for url in urls:
        assert client.get(url).status_code == 403
    assert client.post(f"/dashboard/businesses/{business.id}/retry/").status_code == 403
    assert not RetryEntry.objects.exists()
    assert not AuditEvent.objects.exists()


def test_an_inactive_business_cannot_be_retried(staff_client, alice) -> None:
    business = register_google(alice)[0]
    Business.objects.filter(id=business.id).update(active=False)
    form = {"reason": "try anyway", "scrape_types": ["reviews"]}
    response = staff_client.post(f"/dashboard/businesses/{business.id}/retry/", form, follow=True)
    assert response.status_code == 200
    assert b'class="error"' in response.content
    assert b"An inactive business is not scraped" in response.content
    assert not RetryEntry.objects.exists()


def test_a_force_retry_needs_a_reason_and_known_scrape_types(staff_client, alice) -> None:
    business = register_google(alice)[0]
    url = f"/dashboard/businesses/{business.id}/retry/"
    for form, error in (
        ({"scrape_types": ["reviews"]}, "reason: Say why"),
        ({"reason": "r"}, "scrape_types: Choose at least one scrape type"),
        ({"reason": "r", "scrape_types": ["photos"]}, "photos is not one of the available"),
    ):
        response = staff_client.post(url, form, follow=True)
        assert error in response.content.decode(), form
    assert not RetryEntry.objects.exists()
    assert not AuditEvent.objects.exists()
    response = staff_client.post(url, {"reason": "only reviews", "scrape_types": ["reviews"]})
    assert response.status_code == 302
    (entry,) = RetryEntry.objects.all()
    assert (entry.scrape_type, entry.state) == ("reviews", "pending")
    event = AuditEvent.objects.get(action="retry.force")
    assert (event.object_id, event.reason) == (str(entry.id), "only reviews")


def test_unknown_business_is_a_404(staff_client, groups) -> None:
    assert staff_client.get("/dashboard/businesses/999999/").status_code == 404
    assert staff_client.post("/dashboard/businesses/999999/retry/").status_code == 404


def test_search_by_id_external_id_and_platform(staff_client, alice, bob) -> None:
    first, second = register_google(alice, 2)
    response = staff_client.get(f"/dashboard/businesses/?q={second.external_id}")
    assert list(response.context["page"]) == [second]
    response = staff_client.get(f"/dashboard/businesses/?q={first.id}")
    assert list(response.context["page"]) == [first]
    response = staff_client.get("/dashboard/businesses/?platform=facebook")
    assert list(response.context["page"]) == []
    response = staff_client.get("/dashboard/businesses/?team=alice&status=never")
    assert len(response.context["page"]) == 2
    response = staff_client.get("/dashboard/businesses/?platform=nonsense&team=alice")
    assert response.status_code == 400
    assert len(response.context["page"]) == 0


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_business_pages_cost_the_same_whatever_their_size(staff_client, alice) -> None:
    businesses = register_google(alice, 10)
    target = businesses[0]
    _reviews(target, 10)
    for b in businesses:
        RetryEntry.objects.create(business=b, scrape_type="reviews", state="dead", attempts=3)
    small_list = _queries(staff_client, "/dashboard/businesses/")
    small_detail = _queries(staff_client, f"/dashboard/businesses/{target.id}/")
    register_google(alice, 190)
    ReviewItem.objects.filter(business=target).delete()
    _reviews(target, 200)
    for _ in range(30):
        RetryEntry.objects.create(business=target, scrape_type="reviews", state="dead")
    assert _queries(staff_client, "/dashboard/businesses/") == small_list
    assert _queries(staff_client, "/dashboard/businesses/?team=alice&page=3") == small_list
    assert _queries(staff_client, f"/dashboard/businesses/{target.id}/") == small_detail


@pytest.mark.django_db(transaction=True)
def test_the_last_status_is_read_per_scrape_type(page: Page, operator) -> None:
    """A failed reviews scrape and a good overview: the business page lists both, each batch
    shows its own type's status, and the retry queue links the entry to its batch."""
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    (cafe,) = register_google(alice, 1, name="Café Azur")
    batches = dict(cafe.mappings.values_list("scrape_type", "batch_id"))
    now = timezone.now()
    ScrapeOutcome.objects.create(
        business=cafe,
        scrape_type="reviews",
        last_scraped_at=now,
        last_status="failed",
        last_error="Apify run FAILED",
    )
    ScrapeOutcome.objects.create(
        business=cafe, scrape_type="overview", last_scraped_at=now, last_status="succeeded"
    )
    Business.objects.filter(id=cafe.id).update(last_status="failed")
    RetryEntry.objects.create(
        business=cafe, scrape_type="reviews", batch_id=batches["reviews"], next_attempt_at=now
    )
    log_in(page)

    page.goto(f"/dashboard/businesses/{cafe.id}/")
    outcomes = page.get_by_test_id("outcomes")
    expect(outcomes.locator("tr[data-scrape-type=reviews]")).to_contain_text("failed")
    expect(outcomes.locator("tr[data-scrape-type=reviews]")).to_contain_text("Apify run FAILED")
    expect(outcomes.locator("tr[data-scrape-type=overview]")).to_contain_text("succeeded")

    for scrape_type, status in (("reviews", "failed"), ("overview", "succeeded")):
        page.goto(f"/dashboard/schedules/{batches[scrape_type]}/")
        expect(page.get_by_test_id("type-status")).to_have_text(status)

    page.goto("/dashboard/retry-queue/")
    row = page.get_by_test_id("retry-queue").locator("tbody tr")
    row.get_by_role("link", name=f"#{batches['reviews']}").click()
    expect(page.get_by_role("heading", name=f"Batch #{batches['reviews']}")).to_be_visible()
