"""Teams pages: list, detail, custom intervals set and removed from the dashboard."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from businesses.models import CustomInterval, Team
from businesses.services import custom_interval_set, team_upsert
from schedules.models import Mapping
from schedules.services.assignment import schedule_groups_init
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot


@pytest.mark.django_db(transaction=True)
def test_an_operator_sets_a_custom_interval_and_the_team_moves(page: Page, operator) -> None:
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="starter")[0]
    custom_interval_set(team=bob, interval_minutes=120, platform="booking", reason="pilot")
    register_google(alice, 3)
    log_in(page)

    page.get_by_role("link", name="Teams", exact=True).click()
    expect(page.get_by_role("link", name="alice")).to_be_visible()
    expect(page.get_by_role("link", name="bob")).to_be_visible()
    screenshot(page, "teams")
    page.get_by_label("Team id").fill("ali")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("link", name="bob")).to_have_count(0)
    page.get_by_role("link", name="alice").click()

    assignments = page.get_by_test_id("assignments")
    expect(assignments.get_by_text("720 min")).to_have_count(6)  # 3 businesses × 2 types
    page.get_by_label("Interval (minutes)").fill("45")
    page.get_by_label("Platform").select_option("google")
    page.get_by_label("Reason").fill("launch week")
    page.get_by_role("button", name="Set custom interval").click()

    expect(page.get_by_role("status")).to_contain_text("45 min on google")
    expect(assignments.get_by_text("45 min")).to_have_count(6)
    expect(page.get_by_test_id("custom-intervals")).to_contain_text("launch week")
    expect(page.get_by_test_id("effective-intervals")).to_contain_text("45 min")
    screenshot(page, "team")
    assert set(
        Mapping.objects.filter(team=alice).values_list("batch__group__interval_minutes", flat=True)
    ) == {45}
    event = AuditEvent.objects.get(action="custom_interval.set", object_id="alice")
    assert event.actor == "operator"
    assert event.reason == "launch week"

    # Remove it again, through the confirmation.
    page.get_by_text("Remove…").click()
    page.get_by_role("button", name="Confirm remove").click()
    expect(page.get_by_role("status")).to_contain_text("removed")
    expect(assignments.get_by_text("720 min")).to_have_count(6)
    assert not CustomInterval.objects.filter(team=alice).exists()
    assert AuditEvent.objects.get(action="custom_interval.remove").actor == "operator"


@pytest.mark.django_db(transaction=True)
def test_a_refused_interval_is_an_error_message_and_changes_nothing(page: Page, operator) -> None:
    schedule_groups_init()
    register_google(team_upsert(team_id="alice", tier="professional")[0], 1)
    log_in(page)
    page.goto("/dashboard/teams/alice/")
    page.get_by_label("Interval (minutes)").evaluate("el => el.removeAttribute('min')")
    page.get_by_label("Interval (minutes)").fill("5")
    page.get_by_role("button", name="Set custom interval").click()
    expect(page.locator(".messages li.error")).to_contain_text("interval_minutes")
    assert not CustomInterval.objects.exists()
    assert not AuditEvent.objects.exists()


# --- Django test client ----------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def test_pages_need_staff(client, django_user_model, alice) -> None:
    for url in ("/dashboard/teams/", "/dashboard/teams/alice/"):
        assert client.get(url).status_code == 302
        assert "/dashboard/login/" in client.get(url)["Location"]
    client.force_login(django_user_model.objects.create_user("viewer"))
    for url in ("/dashboard/teams/", "/dashboard/teams/alice/"):
        assert client.get(url).status_code == 403
    response = client.post(
        "/dashboard/teams/alice/custom-interval/", {"interval_minutes": "45", "platform": ""}
    )
    assert response.status_code == 403
    assert not CustomInterval.objects.exists()
    custom_interval_set(team=alice, interval_minutes=60, actor="someone")
    response = client.post("/dashboard/teams/alice/custom-interval/remove/", {"platform": ""})
    assert response.status_code == 403
    assert CustomInterval.objects.count() == 1
    assert AuditEvent.objects.count() == 1


def test_an_unknown_team_is_a_404(staff_client, groups) -> None:
    assert staff_client.get("/dashboard/teams/nobody/").status_code == 404
    assert staff_client.post("/dashboard/teams/nobody/custom-interval/").status_code == 404


def test_expiry_and_all_platforms_from_the_form(staff_client, alice) -> None:
    response = staff_client.post(
        "/dashboard/teams/alice/custom-interval/",
        {"interval_minutes": "90", "platform": "", "expires_at": "2999-01-02T03:04", "reason": ""},
        follow=True,
    )
    assert response.status_code == 200
    custom = CustomInterval.objects.get()
    assert (custom.platform, custom.interval_minutes) == ("", 90)
    assert custom.expires_at.isoformat() == "2999-01-02T03:04:00+00:00"
    assert b"until 2999-01-02 03:04 UTC" in response.content


def test_removing_what_is_not_there_is_an_error_message(staff_client, alice) -> None:
    response = staff_client.post(
        "/dashboard/teams/alice/custom-interval/remove/", {"platform": "google"}, follow=True
    )
    assert b"no custom interval for platform google" in response.content
    assert not AuditEvent.objects.exists()


def _queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url).status_code == 200
    return len(captured.captured_queries)


def test_team_pages_cost_the_same_whatever_their_size(staff_client, groups) -> None:
    big = team_upsert(team_id="big", tier="professional")[0]

    def grow_to(size: int) -> None:
        for n in range(Team.objects.count() - 1, size):
            team = team_upsert(team_id=f"team-{n:04d}", tier="free")[0]
            custom_interval_set(team=team, interval_minutes=60 + n, platform="google")
        register_google(big, size - big.businesses.count())

    grow_to(10)
    small_list = _queries(staff_client, "/dashboard/teams/")
    small_detail = _queries(staff_client, "/dashboard/teams/big/")
    grow_to(200)
    assert _queries(staff_client, "/dashboard/teams/") == small_list
    assert _queries(staff_client, "/dashboard/teams/big/") == small_detail
    assert _queries(staff_client, "/dashboard/teams/?q=team&page=2") == small_list
