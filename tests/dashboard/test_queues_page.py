"""The queues and workers page: backlog and oldest message per queue, who consumes it (a
REAL Celery worker answering the broadcast), heartbeats; and what it says when no worker
answers or the broker is down (never a 500)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.models.functions import Now
from playwright.sync_api import Page, expect

from monitoring.workers import workers_report
from scheduler_project import task_names
from scheduler_project.celery import app
from schedules.heartbeats import heartbeat_record
from schedules.models import Heartbeat
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from tests.dashboard.conftest import PASSWORD, log_in, screenshot
from tests.integration.conftest import CeleryStack, wait_for

URL = "/dashboard/queues/"
DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_user("watcher", password=PASSWORD, is_staff=True)
    )
    return client


def test_with_no_worker_the_page_says_none_answers_and_names_the_waiting_queue(staff, db) -> None:
    app.send_task(task_names.DISPATCH)  # waits in `dispatch`: nobody reads it
    heartbeat_record("worker", name="worker:gone@host", queues=["dispatch"])
    dispatch_tick()  # a dispatcher heartbeat
    heartbeat_record("dispatcher", name="dispatcher:old:1")
    Heartbeat.objects.filter(name="dispatcher:old:1").update(
        last_seen_at=Now() - timedelta(days=2)
    )  # a dispatcher restarted long ago: not listed

    started = time.monotonic()
    response = staff.get(URL)
    elapsed = time.monotonic() - started

    assert response.status_code == 200
    body = response.content.decode()
    assert "No worker answered within 1 s" in body
    assert '<tr data-queue="dispatch" class="queue-' in body
    assert "gone@host" in body  # known from its heartbeat, marked as not answering
    assert "dispatcher:" in body  # the dispatchers' heartbeats
    assert "dispatcher:old:1" not in body
    assert elapsed < 5  # one broadcast timeout, not one per question


def test_the_broker_down_is_a_message_on_the_page_not_an_error(staff, db, settings) -> None:
    settings.CELERY_BROKER_URL = DEAD_BROKER
    response = staff.get(URL)
    assert response.status_code == 200
    assert "The broker cannot be read" in response.content.decode()
    report = workers_report()  # asked anyway: an error, not an exception
    assert report.asked and report.error and report.answering == []


def test_htmx_gets_the_body_only_and_the_page_is_for_staff(client, staff, db) -> None:
    partial = staff.get(URL, headers={"HX-Request": "true"})
    assert partial.status_code == 200
    assert b"<html" not in partial.content and b'aria-label="queues"' in partial.content
    page = staff.get(URL)
    assert b'hx-trigger="every 5s"' in page.content and b'href="/dashboard/queues/"' in page.content
    client.logout()
    assert client.get(URL).status_code == 302


@pytest.mark.django_db(transaction=True)
def test_in_the_browser_no_worker_answers(page: Page, operator) -> None:
    schedule_groups_init()
    log_in(page)
    page.get_by_role("link", name="Queues").click()
    expect(page.get_by_role("heading", name="Queues and workers")).to_be_visible()
    expect(page.get_by_test_id("no-worker")).to_contain_text("No worker answered")
    expect(page.locator("tr[data-queue=dispatch] [data-testid=consumers]")).to_have_text("none")
    screenshot(page, "queues-no-worker")


@pytest.fixture
def worker(tmp_path: Path, settings, transactional_db) -> Iterator[CeleryStack]:
    """A real worker on `dispatch` and `maintenance` only, on the test database."""
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    stack = CeleryStack(env, tmp_path)
    stack.start_worker(name="pageworker", queues="dispatch,maintenance")
    try:
        wait_for(lambda: bool(workers_report().answering), timeout=60)
    except AssertionError:
        stack.stop()
        raise AssertionError(f"the worker did not answer:\n{stack.dump_logs()}") from None
    yield stack
    stack.stop()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_shows_as_the_consumer_of_its_queues(
    page: Page, operator, worker: CeleryStack
) -> None:
    schedule_groups_init()
    dispatch_tick()
    (answering,) = workers_report().answering
    assert answering.hostname.startswith("pageworker@")
    assert answering.queues == ["dispatch", "maintenance"]

    log_in(page)
    page.goto(URL)

    expect(page.get_by_test_id("no-worker")).to_have_count(0)
    consumers = {
        queue: page.locator(f"tr[data-queue={queue}] [data-testid=consumers]")
        for queue in ("dispatch", "maintenance", "ingest", "start")
    }
    expect(consumers["dispatch"]).to_contain_text("pageworker@")
    expect(consumers["maintenance"]).to_contain_text("pageworker@")
    expect(consumers["ingest"]).to_have_text("none")
    expect(consumers["start"]).to_have_text("none")
    row = page.locator(f"tr[data-worker='{answering.hostname}']")
    expect(row).to_contain_text("yes")
    expect(row).to_contain_text("dispatch, maintenance")
    expect(row).to_contain_text("s ago")  # its heartbeat, from the database
    expect(row).to_contain_text("idle")
    expect(page.get_by_test_id("dispatchers")).to_contain_text("dispatcher")
    screenshot(page, "queues-worker")

    # The page refreshes itself: the worker stopped, the next poll says nobody answers.
    worker.stop()
    expect(page.get_by_test_id("no-worker")).to_be_visible(timeout=20_000)
