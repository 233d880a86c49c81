"""The lists' filters are validated: a bad value is a 400 with the page still drawn, the bad
field named and nothing listed (never the unfiltered rows, which a bulk action could then
hit by mistake). Good values filter, unknown parameters are ignored."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import Team
from retry.models import RetryEntry
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot

# (list, query string, the label the error names, the message)
BAD = [
    ("schedules", "platform=myspace", "Platform", "Select a valid choice. myspace is not one"),
    ("schedules", "interval=abc", "Interval", "Select a valid choice. abc is not one"),
    ("schedules", "status=bogus", "Status", "Select a valid choice"),
    ("schedules", "page=two", "Page", "Enter a whole number."),
    ("teams", "tier=gold", "Tier", "Select a valid choice"),
    ("teams", "page=0", "Page", "greater than or equal to 1"),
    ("teams", "q=" + "x" * 65, "Team id", "at most 64 characters"),
    ("businesses", "platform=myspace", "Platform", "Select a valid choice"),
    ("businesses", "status=broken", "Last status", "Select a valid choice"),
    ("businesses", "team=" + "t" * 65, "Team", "at most 64 characters"),
    ("businesses", "page=-1", "Page", "greater than or equal to 1"),
    ("retry-queue", "state=bogus", "State", "Select a valid choice. bogus is not one"),
    ("retry-queue", "scrape_type=photos", "Scrape type", "Select a valid choice"),
    ("retry-queue", "batch=abc", "Batch id", "Enter a whole number."),
    ("executions", "state=bogus", "State", "Select a valid choice"),
    ("executions", "schedule_id=12x", "Batch id", "Enter a whole number."),
    ("executions", "trigger=cron", "Trigger", "Select a valid choice"),
    ("audit-log", "page=x", "Page", "Enter a whole number."),
    ("audit-log", "actor=" + "a" * 151, "Actor", "at most 150 characters"),
]


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("op", is_staff=True))
    return client


@pytest.fixture
def rows(alice: Team) -> None:
    """A row on every list, so "nothing listed" means something."""
    business = register_google(alice)[0]
    RetryEntry.objects.create(business=business, scrape_type="reviews", state="dead")
    AuditEvent.objects.create(actor="op", action="x", object_type="schedules.batch", object_id=1)


@pytest.mark.parametrize(("name", "query", "label", "message"), BAD)
def test_a_bad_filter_is_a_400_naming_the_field(
    staff_client, rows, name: str, query: str, label: str, message: str
) -> None:
    response = staff_client.get(f"/dashboard/{name}/?{query}")
    assert response.status_code == 400
    html = response.content.decode()
    assert "<h1>" in html and 'aria-label="filters"' in html  # the page, with its filters
    assert 'data-testid="filter-errors"' in html
    errors = dict(response.context["form"].error_list())
    assert list(errors) == [label]
    assert message in errors[label]
    assert f"<strong>{label}</strong>" in html
    assert response.context["page"].paginator.count == 0
    assert "hx-trigger" not in html  # no live refresh of an error


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("schedules", "platform=google&scrape_type=reviews&interval=720&status=active&page=1"),
        ("teams", "q=ali&tier=professional"),
        ("businesses", "q=test&team=alice&platform=google&status=never"),
        ("retry-queue", "state=dead&platform=google&scrape_type=reviews&team=alice"),
        ("executions", "state=pending&trigger=manual&platform=google&schedule_id=1"),
        ("audit-log", "action=x&object_type=schedules.batch&object_id=1&actor=op"),
        ("businesses", "utm_source=mail"),  # an unknown parameter filters nothing
    ],
)
def test_good_filters_are_a_200(staff_client, rows, name: str, query: str) -> None:
    response = staff_client.get(f"/dashboard/{name}/?{query}")
    assert response.status_code == 200
    assert response.context["form"].errors == {}
    assert 'hx-trigger="every 5s"' in response.content.decode()


def test_filters_filter(staff_client, rows, bob: Team) -> None:
    register_google(bob, 2)
    assert staff_client.get("/dashboard/businesses/?team=bob").context["page"].paginator.count == 2
    page = staff_client.get("/dashboard/teams/?tier=professional").context["page"]
    assert [t.team_id for t in page] == ["alice"]
    page = staff_client.get("/dashboard/audit-log/?object_id=1").context["page"]
    assert page.paginator.count == 1
    page = staff_client.get("/dashboard/audit-log/?object_id=2").context["page"]
    assert page.paginator.count == 0


@pytest.mark.django_db(transaction=True)
def test_the_page_says_which_filter_is_wrong(page: Page, operator) -> None:
    log_in(page)
    response = page.goto("/dashboard/executions/?state=bogus&schedule_id=abc")
    assert response.status == 400
    errors = page.get_by_test_id("filter-errors")
    expect(errors).to_contain_text("State: Select a valid choice. bogus is not one")
    expect(errors).to_contain_text("Batch id: Enter a whole number.")
    expect(page.get_by_text("Fix the filter above to see the executions.")).to_be_visible()
    expect(page.locator("[data-live-status]")).to_have_count(0)
    screenshot(page, "filters-bad")
    page.get_by_label("Batch id").fill("")
    page.get_by_label("State").select_option("pending")
    page.get_by_role("button", name="Filter").click()
    expect(errors).to_have_count(0)
    assert "state=pending" in page.url
