"""Notifications on real processes: Celery workers on Redis send operator alerts through
Apprise and signed product webhooks to a real local receiver, which verifies each signature
with the standardwebhooks library."""

from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from businesses.services import team_upsert
from notifications.models import Alert, AlertChannelState, Delivery, DeliveryState
from notifications.services.endpoints import endpoint_create
from retry.models import RetryEntry
from scheduler_project import task_names
from scheduler_project.celery import app
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.system_schedules import system_periodic_tasks_ensure
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import CeleryStack, wait_for
from tests.notifications.receiver import Receiver

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def receiver():
    with Receiver() as server:
        yield server


def _publish(task: str, times: int) -> None:
    for _ in range(times):
        app.send_task(task)


def _alert_titles(receiver: Receiver) -> list[str]:
    return [r.json["title"] for r in receiver.requests if r.path == "/alerts"]


def test_two_workers_and_three_ticks_send_one_alert_per_change_and_one_resolve(
    celery_stack: CeleryStack, receiver: Receiver, alice, fake: FakeApify
) -> None:
    failing = "json://ops:hunter2@127.0.0.1:1/alerts"
    env = {
        "ALERT_URLS": f"json://127.0.0.1:{receiver.port}/alerts,{failing}",
        "SCHEDULER_HEALTH_PENDING_RETRIES_WARNING": "0",
        "SCHEDULER_ALERT_RETRY_SECONDS": "1,1",
    }
    for name in ("w1", "w2"):
        celery_stack.start_worker(name, queues="maintenance,notify", **env)
    (business,) = register_google(alice, 1)
    mine = [
        "[WARNING] health check pending_retries",
        "Resolved: health check pending_retries",
    ]
    try:
        RetryEntry.objects.create(
            business=business, scrape_type="reviews", next_attempt_at=db_now()
        )
        _publish(task_names.EVALUATE_ALERTS, 6)  # three ticks, each seen by two workers
        wait_for(lambda: mine[0] in _alert_titles(receiver), 60)
        RetryEntry.objects.all().delete()
        time.sleep(2)  # every tick of the first round has run by now
        _publish(task_names.EVALUATE_ALERTS, 6)
        wait_for(lambda: mine[1] in _alert_titles(receiver), 60)
        time.sleep(2)
        # The failing channel: retried by the sender (1 s backoff) until it gives up.
        for _ in range(3):
            time.sleep(1.2)
            _publish(task_names.SEND_ALERTS, 2)
        wait_for(lambda: not Alert.objects.filter(state=AlertChannelState.PENDING).exists(), 30)
    except AssertionError:
        print(celery_stack.dump_logs())
        raise

    assert [t for t in _alert_titles(receiver) if "pending_retries" in t] == mine
    for alert in Alert.objects.filter(key="health:pending_retries"):
        assert alert.state == AlertChannelState.FAILED and alert.attempts == 3
        assert sorted(result["ok"] for result in alert.channels.values()) == [False, True]
        assert "hunter2" not in str(alert.channels)


def test_a_scrape_cycle_signals_the_subscribing_team_and_a_500_is_sent_again(
    fake: FakeApify, celery_stack: CeleryStack, receiver: Receiver, live_server, settings
) -> None:
    settings.WEBHOOK_BASE_URL = celery_stack.env["WEBHOOK_BASE_URL"] = live_server.url
    settings.SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS = True
    settings.SCHEDULER_WEBHOOK_TICK_SECONDS = 1  # the beat's retry sweep
    celery_stack.env.update(
        SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS="true", SCHEDULER_WEBHOOK_RETRY_SECONDS="1,1,1"
    )
    schedule_groups_init()
    system_periodic_tasks_ensure()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="professional")[0]
    a1, a2 = register_google(alice, 2, scrape_types=["reviews"])
    (b1,) = register_google(bob, 1, scrape_types=["reviews"])
    _, secret = endpoint_create(url=receiver.url(), events=["business.scraped"], team_id="alice")
    batch = a1.mappings.get().batch
    assert b1.mappings.get().batch_id == batch.id
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    receiver.answer(500)  # the first delivery fails once

    celery_stack.start()
    try:
        wait_for(lambda: Execution.objects.filter(batch=batch, state="running").exists(), 90)
        execution = Execution.objects.get(batch=batch)
        items = [{"placeId": b.platform_key, "reviewId": f"r-{b.id}"} for b in (a1, a2, b1)]
        assert fake.finish_run(execution.apify_run_id, "SUCCEEDED", items) == [202]
        receiver.wait_for(lambda seen: len(seen) >= 3, 60)
        wait_for(lambda: not Delivery.objects.exclude(state=DeliveryState.SUCCEEDED).exists(), 30)
    except AssertionError:
        print(celery_stack.dump_logs())
        raise

    verified = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert {e["data"]["business_id"] for e in verified} == {a1.id, a2.id}
    assert {e["data"]["team_id"] for e in verified} == {"alice"}
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == 3 and len(set(ids)) == 2  # the one answered 500 came again, same id
    assert Delivery.objects.count() == 2 and not Delivery.objects.filter(team_id="bob").exists()
