"""The overview in a real browser: log in, see health with its reasons, counts, utilisation."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from businesses.services import team_upsert
from scheduler_project import task_names
from scheduler_project.celery import app
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


def test_work_no_worker_consumes_shows_on_the_overview_naming_the_queue(
    page: Page, operator, settings
) -> None:
    """The `queues` check on the overview: a dispatch tick waits in the broker with no
    worker on its queue for two ticks; the overview says so, naming `dispatch`."""
    settings.DISPATCH_TICK_SECONDS = 1
    schedule_groups_init()
    app.send_task(task_names.DISPATCH)
    time.sleep(2.2)

    log_in(page)

    expect(page.get_by_test_id("health-status")).to_have_text("critical")
    queues = page.locator("ul.checks li", has_text="Queues")
    expect(queues).to_have_class("status-critical")
    expect(queues).to_contain_text("No worker consumes dispatch")
