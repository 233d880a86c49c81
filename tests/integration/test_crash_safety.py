"""A worker SIGKILLed in the middle of an ingest loses nothing and doubles nothing: the
ingest writes in one transaction, and the execution is finished after the restart (by the
redelivered message or by reconciliation, whichever comes first)."""

from __future__ import annotations

import signal

import pytest

from businesses.models import ReviewItem
from businesses.services import team_upsert
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.tasks import reconcile
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import CeleryStack, wait_for
from webhooks.models import WebhookEvent
from webhooks.services import webhook_event_receive

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ITEMS = 60_000


def test_a_worker_killed_mid_ingest_loses_and_doubles_nothing(
    fake: FakeApify,
    celery_stack: CeleryStack,
    settings,
) -> None:
    settings.APIFY_API_URL, settings.APIFY_TOKEN = fake.url, celery_stack.env["APIFY_TOKEN"]
    schedule_groups_init()
    businesses = register_google(
        team_upsert(team_id="alice", tier="professional")[0], 4, scrape_types=["reviews"]
    )
    batch = businesses[0].mappings.get().batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    dispatch_tick()
    execution = Execution.objects.get(batch=batch)
    assert execution_start(execution_id=execution.id) == "running"
    execution.refresh_from_db()
    items = [
        {"placeId": businesses[n % 4].platform_key, "reviewId": f"r{n}", "text": "x" * 200}
        for n in range(ITEMS)
    ]
    fake.finish_run(execution.apify_run_id, "SUCCEEDED", items, deliver_webhooks=False)

    victim = celery_stack.start_worker("victim")
    webhook_event_receive(
        run_id=execution.apify_run_id,
        event_type="ACTOR.RUN.SUCCEEDED",
        payload={"resource": {"id": execution.apify_run_id}},
    )
    # The ingest has begun: its dataset is being downloaded. Kill the worker there.
    fake.wait_for_requests(lambda r: "/items" in r.path, timeout=60)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    execution.refresh_from_db()
    assert execution.state == "running", "the kill came too late to prove anything"
    assert ReviewItem.objects.count() == 0  # nothing half-written

    # Restart: this worker redelivers unacknowledged messages at once and considers any run
    # overdue, so both recovery paths race; exactly one ingest may win.
    celery_stack.start_worker(
        "restarted",
        CELERY_VISIBILITY_TIMEOUT="1",
        SCHEDULER_RUN_TIMEOUT_SECONDS="0",
        SCHEDULER_RUN_GRACE_SECONDS="0",
    )
    reconcile.delay()
    try:
        wait_for(
            lambda: Execution.objects.filter(id=execution.id, state="succeeded").exists(),
            timeout=120,
        )
    except AssertionError:
        print(celery_stack.dump_logs())
        raise
    execution.refresh_from_db()
    assert execution.attributed_count == ITEMS
    assert ReviewItem.objects.count() == ITEMS
    assert ReviewItem.objects.values("business_id", "platform_item_id").distinct().count() == ITEMS
    assert WebhookEvent.objects.count() == 1
