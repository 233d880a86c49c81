"""A real Celery worker and beat on Redis dispatch a due batch; the start request reaches
the fake Apify through the real apify-client."""

from __future__ import annotations

import json

import pytest
from django.db import connection

from businesses.services import team_upsert
from monitoring.health import health_report
from scheduler_project import task_names
from scheduler_project.celery import app
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution, Heartbeat
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_trigger
from schedules.services.system_schedules import system_periodic_tasks_ensure
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import SECRET, CeleryStack, wait_for
from tests.pgbouncer import PgBouncer

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_beat_and_worker_dispatch_a_due_batch_to_apify(
    fake: FakeApify,
    celery_stack: CeleryStack,
    settings,
    pooler: PgBouncer | None,
) -> None:
    settings.WEBHOOK_BASE_URL = celery_stack.env["WEBHOOK_BASE_URL"] = (
        "https://scheduler.example.test/"
    )
    schedule_groups_init()
    system_periodic_tasks_ensure()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    businesses = register_google(alice, 3, scrape_types=["reviews"])
    batch = businesses[0].mappings.get().batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())

    celery_stack.start()
    try:
        (start,) = fake.wait_for_requests(
            lambda r: r.method == "POST" and r.path.endswith("/runs"), timeout=90
        )
    except AssertionError:
        print(celery_stack.dump_logs())
        raise
    assert start.path == "/v2/actors/compass~google-maps-reviews-scraper/runs"
    assert start.json["placeIds"] == [b.platform_key for b in businesses]
    (webhook,) = start.webhooks
    assert webhook["requestUrl"] == "https://scheduler.example.test/api/v1/webhooks/apify/"
    assert json.loads(webhook["headersTemplate"]) == {"X-Webhook-Secret": SECRET}

    execution = Execution.objects.get(batch=batch)
    assert webhook["idempotencyKey"] == str(execution.id)
    wait_for(lambda: Execution.objects.filter(id=execution.id, state="running").exists())
    execution.refresh_from_db()
    assert execution.apify_run_id in fake.runs
    assert execution.trigger == "scheduled" and execution.state == ExecutionState.RUNNING
    # The beat, the worker and the tick it ran each left a sign of life for health.
    assert set(Heartbeat.objects.values_list("kind", flat=True)) == {"worker", "dispatcher", "beat"}
    celery_stack.stop()
    # Exactly one run for the slot, however many ticks the beat sent meanwhile.
    assert len([r for r in fake.requests if r.method == "POST"]) == 1
    assert Execution.objects.filter(batch=batch).count() == 1
    if pooler is not None:  # the stack's transactions went through PgBouncer, not around it
        assert pooler.transactions(connection.settings_dict["NAME"]) > 0


def test_a_plain_worker_with_no_queue_option_runs_a_manual_trigger(
    fake: FakeApify, celery_stack: CeleryStack
) -> None:
    """`celery -A scheduler_project worker`, as every Celery user types it first: the start
    routed to the `start` queue reaches Apify (it used to wait in a queue nobody read)."""
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    (business,) = register_google(alice, 1, scrape_types=["reviews"])
    batch = business.mappings.get().batch
    celery_stack.start_worker()  # no -Q, no beat
    execution = batch_trigger(batch_id=batch.id, actor="operator")
    try:
        (start,) = fake.wait_for_requests(
            lambda r: r.method == "POST" and r.path.endswith("/runs"), timeout=90
        )
    except AssertionError:
        print(celery_stack.dump_logs())
        raise
    assert start.json["placeIds"] == [business.platform_key]
    assert start.webhooks[0]["idempotencyKey"] == str(execution.id)


def test_a_worker_on_the_start_queue_only_leaves_dispatch_critical_in_health(
    fake: FakeApify, celery_stack: CeleryStack
) -> None:
    """A deployment that forgot the dispatch worker: health names the queue."""
    celery_stack.start_worker(queues="start")
    wait_for(lambda: Heartbeat.objects.filter(kind="worker").exists())
    (heartbeat,) = Heartbeat.objects.filter(kind="worker")
    assert heartbeat.details["queues"] == ["start"]
    app.send_task(task_names.DISPATCH)
    app.send_task(task_names.START, args=([],))  # consumed: not a finding

    def queues_check():
        return next(c for c in health_report()[1] if c.name == "queues")

    wait_for(lambda: queues_check().status == "critical", timeout=30)
    reason = queues_check().reason
    assert reason.startswith("No worker consumes dispatch (1 waiting"), reason
    assert "start" not in reason.split(":")[0]
