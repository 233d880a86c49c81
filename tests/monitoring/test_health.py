"""Health: the pure grading table, the database reader, and GET /api/v1/admin/health/."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from businesses.models import Business, Team
from monitoring.health import (
    CRITICAL,
    HEALTHY,
    WARNING,
    HealthInputs,
    HealthThresholds,
    health_inputs,
    health_status,
)
from retry.models import RetryEntry
from schedules.models import Batch, Execution, Heartbeat, ScheduleGroup
from webhooks.models import WebhookEvent

URL = "/api/v1/admin/health/"
_seq = itertools.count(1)

# ---------------------------------------------------------------- factories (shared with metrics)


# Every check, in the order health lists them (the API, the command, the dashboard).
CHECK_NAMES = [
    "batch_utilisation",
    "pending_retries",
    "dead_retries",
    "dispatcher_heartbeat",
    "stuck_executions",
    "webhook_failures",
    "dispatch_switch",
    "queues",
    "apify_capacity",
]


def make_batches(
    count: int, *, business_count: int = 10, capacity: int = 100, **fields: object
) -> list[Batch]:
    platform = str(fields.pop("platform", "google"))
    group, _ = ScheduleGroup.objects.get_or_create(
        platform=platform, scrape_type="reviews", interval_minutes=60, cron_expression=""
    )
    start = Batch.objects.filter(group=group).count()
    fields.setdefault("next_run_at", timezone.now() + timedelta(hours=1))
    return Batch.objects.bulk_create(
        Batch(
            group=group,
            batch_index=start + i,
            capacity=capacity,
            business_count=business_count,
            **fields,
        )
        for i in range(count)
    )


def make_executions(count: int, **fields: object) -> list[Execution]:
    fields.setdefault("platform", "google")
    fields.setdefault("scrape_type", "reviews")
    fields.setdefault("trigger", "manual")
    fields.setdefault("scheduled_for", timezone.now())
    return Execution.objects.bulk_create(Execution(**fields) for _ in range(count))


def make_retries(count: int, state: str) -> list[RetryEntry]:
    team, _ = Team.objects.get_or_create(team_id="health-team")
    businesses = Business.objects.bulk_create(
        Business(team=team, platform="google", external_id=f"p{n}", platform_key=f"p{n}")
        for n in (next(_seq) for _ in range(count))
    )
    return RetryEntry.objects.bulk_create(
        RetryEntry(business=b, scrape_type="reviews", state=state) for b in businesses
    )


def make_webhook_events(count: int, status: str, **fields: object) -> list[WebhookEvent]:
    return WebhookEvent.objects.bulk_create(
        WebhookEvent(
            run_id=f"run{next(_seq)}",
            event_type="ACTOR.RUN.SUCCEEDED",
            payload={},
            status=status,
            **fields,
        )
        for _ in range(count)
    )


def beat(seconds_ago: float, kind: str = "dispatcher") -> None:
    Heartbeat.objects.create(
        name=f"{kind}:{next(_seq)}",
        kind=kind,
        last_seen_at=timezone.now() - timedelta(seconds=seconds_ago),
    )


# ---------------------------------------------------------------- the pure function

CALM = HealthInputs(
    utilisation=50.0,
    pending_retries=0,
    dead_retries=0,
    heartbeat_age_seconds=10.0,
    stuck_executions=0,
    webhook_failures=0,
)


@pytest.mark.parametrize(
    ("field", "value", "check", "expected"),
    [
        ("utilisation", None, "batch_utilisation", HEALTHY),
        ("utilisation", 0.0, "batch_utilisation", HEALTHY),
        ("utilisation", 80.0, "batch_utilisation", HEALTHY),
        ("utilisation", 80.01, "batch_utilisation", WARNING),
        ("utilisation", 95.0, "batch_utilisation", WARNING),
        ("utilisation", 95.01, "batch_utilisation", CRITICAL),
        ("utilisation", 100.0, "batch_utilisation", CRITICAL),
        ("pending_retries", 10, "pending_retries", HEALTHY),
        ("pending_retries", 11, "pending_retries", WARNING),
        ("pending_retries", 5000, "pending_retries", WARNING),
        ("dead_retries", 10, "dead_retries", HEALTHY),
        ("dead_retries", 11, "dead_retries", CRITICAL),
        ("heartbeat_age_seconds", 0.0, "dispatcher_heartbeat", HEALTHY),
        ("heartbeat_age_seconds", 300.0, "dispatcher_heartbeat", HEALTHY),
        ("heartbeat_age_seconds", 300.5, "dispatcher_heartbeat", CRITICAL),
        ("heartbeat_age_seconds", None, "dispatcher_heartbeat", CRITICAL),
        ("stuck_executions", 0, "stuck_executions", HEALTHY),
        ("stuck_executions", 1, "stuck_executions", WARNING),
        ("stuck_executions", 10, "stuck_executions", WARNING),
        ("stuck_executions", 11, "stuck_executions", CRITICAL),
        ("webhook_failures", 0, "webhook_failures", HEALTHY),
        ("webhook_failures", 1, "webhook_failures", WARNING),
    ],
)
def test_each_threshold_and_boundary(field: str, value: object, check: str, expected: str) -> None:
    status, checks = health_status(replace(CALM, **{field: value}))
    by_name = {c.name: c for c in checks}
    assert by_name[check].status == expected
    assert status == expected
    assert all(c.status == HEALTHY for c in checks if c.name != check)
    assert by_name[check].reason


def test_calm_inputs_are_healthy_with_every_check_listed() -> None:
    status, checks = health_status(CALM)
    assert status == HEALTHY
    assert [c.name for c in checks] == CHECK_NAMES


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"pending_retries": 11, "utilisation": 90.0}, WARNING),
        ({"pending_retries": 11, "dead_retries": 11}, CRITICAL),
        ({"stuck_executions": 1, "heartbeat_age_seconds": None}, CRITICAL),
    ],
)
def test_overall_is_the_worst_check(changes: dict, expected: str) -> None:
    assert health_status(replace(CALM, **changes))[0] == expected


def test_check_carries_value_threshold_and_reason() -> None:
    _, checks = health_status(replace(CALM, utilisation=96.5, pending_retries=12))
    util, pending = checks[0], checks[1]
    assert (util.status, util.value, util.threshold) == (CRITICAL, 96.5, 95.0)
    assert "96.5 %" in util.reason and "95 %" in util.reason
    assert (pending.status, pending.value, pending.threshold) == (WARNING, 12, 10)
    assert "12 retry entries pending" in pending.reason


@pytest.mark.parametrize(
    ("field", "value", "check", "expected"),
    [
        ("utilisation", 51.0, "batch_utilisation", WARNING),
        ("utilisation", 61.0, "batch_utilisation", CRITICAL),
        ("pending_retries", 3, "pending_retries", WARNING),
        ("dead_retries", 1, "dead_retries", CRITICAL),
        ("heartbeat_age_seconds", 61.0, "dispatcher_heartbeat", CRITICAL),
        ("stuck_executions", 3, "stuck_executions", CRITICAL),
    ],
)
def test_thresholds_come_from_settings(
    settings, field: str, value: object, check: str, expected: str
) -> None:
    settings.SCHEDULER_HEALTH_UTILISATION_WARNING = 50
    settings.SCHEDULER_HEALTH_UTILISATION_CRITICAL = 60
    settings.SCHEDULER_HEALTH_PENDING_RETRIES_WARNING = 2
    settings.SCHEDULER_HEALTH_DEAD_RETRIES_CRITICAL = 0
    settings.SCHEDULER_HEALTH_HEARTBEAT_CRITICAL_SECONDS = 60
    settings.SCHEDULER_HEALTH_STUCK_EXECUTIONS_CRITICAL = 2
    thresholds = HealthThresholds.from_settings()
    calm = replace(CALM, utilisation=40.0, heartbeat_age_seconds=5.0)
    _, checks = health_status(replace(calm, **{field: value}), thresholds)
    assert {c.name: c.status for c in checks}[check] == expected


# ---------------------------------------------------------------- the reader


@pytest.mark.django_db
def test_inputs_read_from_the_database() -> None:
    now = timezone.now()
    make_batches(1, business_count=30)
    make_batches(1, business_count=90)
    make_batches(1, business_count=100, status="paused")  # not active: ignored
    make_retries(3, "pending")
    make_retries(2, "dead")
    make_retries(1, "succeeded")
    beat(600)
    beat(120)  # the freshest dispatcher counts
    beat(5, kind="worker")  # another kind does not
    make_executions(2, state="pending", lease_expires_at=now - timedelta(minutes=1))
    make_executions(1, state="starting", lease_expires_at=now - timedelta(minutes=1))
    make_executions(1, state="pending", lease_expires_at=now + timedelta(minutes=5))
    make_executions(1, state="running", lease_expires_at=now - timedelta(minutes=1))
    make_webhook_events(2, "failed")
    old = make_webhook_events(1, "failed")
    WebhookEvent.objects.filter(id=old[0].id).update(received_at=now - timedelta(hours=2))
    make_webhook_events(1, "processed")

    inputs = health_inputs()

    assert inputs.utilisation == pytest.approx(60.0)  # (30 + 90) / (100 + 100)
    assert (inputs.pending_retries, inputs.dead_retries) == (3, 2)
    assert inputs.heartbeat_age_seconds == pytest.approx(120, abs=30)
    assert inputs.stuck_executions == 3
    assert inputs.webhook_failures == 2


@pytest.mark.django_db
def test_inputs_on_an_empty_database() -> None:
    inputs = health_inputs()
    assert set(inputs.queues) == set(settings.ALL_QUEUES.split(","))  # read from the broker
    assert replace(inputs, queues={}) == HealthInputs(None, 0, 0, None, 0, 0)


# ---------------------------------------------------------------- the endpoint


def test_health_endpoint_for_an_admin_key(admin_client_key) -> None:
    beat(1)
    make_batches(1, business_count=50)
    response = admin_client_key.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == HEALTHY
    assert body["generated_at"]
    util = body["checks"][0]
    assert util == {
        "name": "batch_utilisation",
        "status": HEALTHY,
        "value": 50.0,
        "threshold": 80.0,
        "reason": util["reason"],
    }
    assert {c["name"]: c["value"] for c in body["checks"]}["pending_retries"] == 0


def test_critical_is_still_200_and_the_body_says_it(staff_client) -> None:
    make_retries(11, "dead")  # and no dispatcher has ever ticked
    response = staff_client.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == CRITICAL
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    assert statuses["dead_retries"] == CRITICAL
    assert statuses["dispatcher_heartbeat"] == CRITICAL


@pytest.mark.django_db
def test_anonymous_is_401(anonymous_client) -> None:
    assert anonymous_client.get(URL).status_code == 401


def test_product_key_is_403(product_client) -> None:
    assert product_client.get(URL).status_code == 403


def _queries(client, rows: int) -> int:
    make_batches(rows, business_count=40)
    make_executions(rows, state="pending", lease_expires_at=timezone.now() - timedelta(hours=1))
    make_retries(rows, "pending")
    make_webhook_events(rows, "failed")
    beat(1)
    with CaptureQueriesContext(connection) as ctx:
        assert client.get(URL).status_code == 200
    return len(ctx)


def test_query_count_does_not_grow_with_rows(admin_client_key) -> None:
    small = _queries(admin_client_key, 10)
    large = _queries(admin_client_key, 190)  # 200 of each in all
    assert small == large
    assert Batch.objects.count() == 200
