"""The overview in a real browser: log in, see health with its reasons, counts, utilisation."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect

from businesses.services import team_upsert
from scheduler_project import task_names
from scheduler_project.celery import app
from schedules.models import Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.capacity import account_refresh, capacity_sample_record
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot
from tests.schedules.test_admission import make_pending

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
    expect(page.get_by_test_id("chart-executions")).to_be_visible()
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


def test_the_overview_shows_the_apify_account_its_waiting_work_and_its_costs(
    page: Page, operator, fake_apify
) -> None:
    fake_apify.set_limits(max_concurrent_runs=2, max_memory_mbytes=8192)
    account_refresh()
    schedule_groups_init()
    (business,) = register_google(team_upsert(team_id="alice", tier="professional")[0])
    ids = make_pending(business, 3)
    for execution_id in ids:
        execution_start(execution_id=execution_id)
    capacity_sample_record()
    Execution.objects.filter(id=ids[0]).update(
        state="succeeded",
        finished_at=Execution.objects.get(id=ids[0]).started_at,
        usage_usd=Decimal("0.25"),
    )

    log_in(page)

    card = page.get_by_test_id("capacity")
    expect(card.get_by_test_id("capacity-runs")).to_have_text("1 / 2")
    expect(card.get_by_test_id("capacity-memory")).to_have_text("1024 / 8192 MB")
    expect(card.get_by_test_id("capacity-waiting")).to_contain_text("1 (oldest")
    expect(page.get_by_test_id("chart-capacity").locator("canvas")).to_be_visible()
    expect(page.get_by_test_id("cost-per-team")).to_contain_text("alice")
    expect(page.get_by_test_id("cost-per-team")).to_contain_text("0.2500")
    screenshot(page, "overview-capacity")

    page.goto(page.url.rstrip("/") + f"/executions/{ids[2]}/")
    expect(page.get_by_test_id("wait-reason")).to_contain_text("Waiting for Apify capacity")
