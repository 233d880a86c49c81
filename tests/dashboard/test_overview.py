"""The overview in a real browser: log in, see health with its reasons, counts, utilisation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from businesses.services import team_upsert
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_operator_logs_in_and_sees_the_overview(page: Page, operator) -> None:
    schedule_groups_init()
    register_google(team_upsert(team_id="alice", tier="professional")[0], 3)
    dispatch_tick()  # a dispatcher heartbeat

    log_in(page)

    assert page.url.endswith("/dashboard/")
    expect(page.get_by_test_id("health-status")).to_have_text("healthy")
    expect(page.get_by_text("Dispatcher heartbeat", exact=False)).to_be_visible()
    expect(page.locator("dl.stats").first).to_contain_text("Businesses")
    expect(page.get_by_role("cell", name="google").first).to_be_visible()
    expect(page.locator("svg.chart")).to_be_visible()
    screenshot(page, "overview")


def test_a_wrong_password_is_refused(page: Page, operator) -> None:
    log_in(page, password="wrong")
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    assert page.url.endswith("/dashboard/login/")
