"""The `queues` check reads the real broker (Redis db of the tests): backlog, the age of the
oldest message, and whether a live worker consumes the queue."""

from __future__ import annotations

import time

import pytest
import redis
from django.conf import settings as django_settings

from monitoring.health import health_report
from monitoring.queues import queue_states
from scheduler_project import task_names
from scheduler_project.celery import app
from scheduler_project.dbclock import db_now
from schedules.models import Heartbeat


@pytest.fixture
def broker(settings) -> redis.Redis:
    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    client.flushdb()
    settings.DISPATCH_TICK_SECONDS = 1  # two ticks: 2 s
    yield client
    client.flushdb()


def _queues_check() -> dict:
    _, checks = health_report()
    (check,) = [c for c in checks if c.name == "queues"]
    return check


def test_empty_queues_are_healthy(db: None, broker: redis.Redis) -> None:
    states = {s.name: s for s in queue_states()}
    assert set(states) == set(django_settings.ALL_QUEUES.split(","))
    assert all(s.backlog == 0 and s.oldest_age_seconds is None for s in states.values())
    assert _queues_check().status == "healthy"


def test_work_nobody_consumes_for_two_ticks_is_critical_naming_the_queue(
    db: None, broker: redis.Redis
) -> None:
    app.send_task(task_names.DISPATCH)
    app.send_task(task_names.DISPATCH)
    (dispatch,) = [s for s in queue_states() if s.name == "dispatch"]
    assert dispatch.backlog == 2 and dispatch.oldest_age_seconds < 2
    assert _queues_check().status == "healthy"  # young work is normal

    time.sleep(2.2)
    check = _queues_check()
    assert check.status == "critical"
    assert "No worker consumes dispatch (2 waiting" in check.reason


def test_a_live_worker_on_the_queue_makes_old_work_a_warning_not_critical(
    db: None, broker: redis.Redis
) -> None:
    Heartbeat.objects.create(
        name="worker:w1", kind="worker", last_seen_at=db_now(), details={"queues": ["dispatch"]}
    )
    app.send_task(task_names.DISPATCH)
    time.sleep(2.2)
    check = _queues_check()
    assert check.status == "warning" and "fall behind on dispatch" in check.reason
