"""Metrics: GET /api/v1/admin/metrics/ (JSON) and GET /metrics (Prometheus text)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from monitoring.metrics import metrics_registry
from schedules.models import Execution
from tests.monitoring.test_health import (
    make_batches,
    make_executions,
    make_retries,
    make_webhook_events,
)

URL = "/api/v1/admin/metrics/"


@pytest.fixture
def data(db: None) -> None:
    now = timezone.now()
    make_batches(2, business_count=50)  # google 50 %, 50 %
    make_batches(1, business_count=90)  # google 90 %
    make_batches(1, business_count=20, platform="booking")  # booking 20 %
    make_batches(1, business_count=100, status="paused")
    due = make_batches(1, business_count=10, next_run_at=now - timedelta(minutes=10))
    make_batches(1, business_count=10, next_run_at=now - timedelta(minutes=30), status="paused")
    assert due

    make_executions(3, state="succeeded", trigger="scheduled", scheduled_for=now)
    make_executions(2, state="failed", trigger="retry", error="Apify API error: 502")
    make_executions(1, state="failed", trigger="manual", error="no businesses to scrape")
    old = make_executions(4, state="succeeded", trigger="manual")
    Execution.objects.filter(id__in=[e.id for e in old]).update(created_at=now - timedelta(days=3))
    make_executions(1, state="succeeded", finished_at=now, usage_usd=Decimal("0.125"))
    make_executions(1, state="succeeded", finished_at=now, usage_usd=Decimal("0.5"))
    make_executions(  # finished before today (UTC): not in today's cost
        1,
        state="succeeded",
        finished_at=now.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(hours=1),
        usage_usd=Decimal("7"),
    )

    make_retries(3, "pending")
    make_retries(1, "dead")
    make_webhook_events(4, "processed", duplicates=2)
    make_webhook_events(1, "failed")


def test_metrics_json(admin_client_key, data: None) -> None:
    response = admin_client_key.get(URL)
    assert response.status_code == 200
    body = response.json()
    executions = body["executions"]
    assert executions["total"] == 13
    assert executions["last_24h"] == 9
    assert executions["by_state"]["succeeded"] == {"total": 10, "last_24h": 6}
    assert executions["by_state"]["failed"] == {"total": 3, "last_24h": 3}
    assert executions["by_state"]["running"] == {"total": 0, "last_24h": 0}
    assert executions["by_trigger"]["manual"] == {"total": 8, "last_24h": 4}
    assert executions["by_trigger"]["retry"] == {"total": 2, "last_24h": 2}
    assert executions["by_trigger"]["scheduled"] == {"total": 3, "last_24h": 3}
    assert body["retry_queue"] == {"pending": 3, "running": 0, "succeeded": 0, "dead": 1}
    assert body["batches"]["by_status"] == {"active": 5, "paused": 2, "retired": 0}
    util = body["utilisation"]
    assert util["max_percent"] == 90.0
    assert util["average_percent"] == pytest.approx((50 + 50 + 90 + 20 + 10) / 5)
    assert util["by_platform"]["google"] == {
        "active_batches": 4,
        "average_percent": 50.0,
        "max_percent": 90.0,
    }
    assert util["by_platform"]["booking"]["max_percent"] == 20.0
    assert util["by_platform"]["facebook"] == {
        "active_batches": 0,
        "average_percent": None,
        "max_percent": None,
    }
    assert body["webhook_events"] == {
        "by_status": {"received": 0, "processed": 4, "unknown_run": 0, "failed": 1},
        "duplicates": 8,
    }
    assert body["apify"] == {"cost_today_usd": 0.625, "errors": 2}
    assert 590 <= body["dispatch_lag_seconds"] <= 700  # the paused batch does not count
    assert body["generated_at"]


def test_metrics_json_on_an_empty_database(staff_client) -> None:
    body = staff_client.get(URL).json()
    assert body["executions"]["total"] == 0
    assert body["dispatch_lag_seconds"] == 0
    assert body["apify"] == {"cost_today_usd": 0.0, "errors": 0}
    assert body["utilisation"]["max_percent"] is None
    assert body["repairs"] == {"next_run_at_total": 0, "next_run_at_last_24h": 0}


@pytest.mark.django_db
def test_metrics_json_anonymous_is_401(anonymous_client) -> None:
    assert anonymous_client.get(URL).status_code == 401


def test_metrics_json_product_key_is_403(product_client) -> None:
    assert product_client.get(URL).status_code == 403


def _families(text: str) -> dict:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _value(family, **labels: str) -> float:
    matches = [s.value for s in family.samples if s.labels == labels]
    assert len(matches) == 1, (family.name, labels, family.samples)
    return matches[0]


def test_prometheus_metrics(client, data: None) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    families = _families(response.content.decode())
    assert {
        "scheduler_executions",
        "scheduler_executions_last_24h",
        "scheduler_dispatch_lag_seconds",
        "scheduler_retry_queue",
        "scheduler_batches",
        "scheduler_batch_utilisation_average_ratio",
        "scheduler_batch_utilisation_max_ratio",
        "scheduler_webhook_events",
        "scheduler_webhook_duplicates",
        "scheduler_apify_errors",
        "scheduler_apify_cost_today_usd",
    } <= set(families)
    # Counts that only grow are counters, the loop's durations histograms (test_histograms.py);
    # the rest are gauges read from the database.
    assert families["scheduler_next_run_repairs"].type == "counter"
    histograms = {name for name, f in families.items() if f.type == "histogram"}
    assert histograms == {
        "scheduler_dispatch_lateness_seconds",
        "scheduler_run_duration_seconds",
        "scheduler_ingest_duration_seconds",
    }
    assert all(
        f.type == "gauge"
        for name, f in families.items()
        if name != "scheduler_next_run_repairs" and name not in histograms
    )
    executions = families["scheduler_executions"]
    assert _value(executions, state="succeeded", trigger="manual") == 7
    assert _value(executions, state="failed", trigger="retry") == 2
    assert _value(executions, state="running", trigger="scheduled") == 0
    recent = families["scheduler_executions_last_24h"]
    assert _value(recent, state="succeeded", trigger="manual") == 3
    assert 590 <= _value(families["scheduler_dispatch_lag_seconds"]) <= 700
    assert _value(families["scheduler_retry_queue"], state="pending") == 3
    assert _value(families["scheduler_retry_queue"], state="dead") == 1
    assert _value(families["scheduler_batches"], status="paused") == 2
    average = families["scheduler_batch_utilisation_average_ratio"]
    assert _value(average, platform="google") == pytest.approx(0.5)
    assert _value(families["scheduler_batch_utilisation_max_ratio"], platform="google") == 0.9
    assert _value(average, platform="booking") == pytest.approx(0.2)
    assert not [s for s in average.samples if s.labels == {"platform": "facebook"}]
    assert _value(families["scheduler_webhook_events"], status="processed") == 4
    assert _value(families["scheduler_webhook_duplicates"]) == 8
    assert _value(families["scheduler_apify_errors"]) == 2
    assert _value(families["scheduler_apify_cost_today_usd"]) == pytest.approx(0.625)


def test_prometheus_uses_its_own_registry(db: None) -> None:
    registry = metrics_registry()
    assert registry is not REGISTRY
    assert not [n for n in REGISTRY._names_to_collectors if n.startswith("scheduler_")]


@pytest.mark.django_db
def test_prometheus_token_when_set(client, settings) -> None:
    settings.METRICS_TOKEN = "scrape-me"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-me").status_code == 401
    ok = client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-me")
    assert ok.status_code == 200
    assert "scheduler_executions" in _families(ok.content.decode())


def _fill(rows: int) -> None:
    now = timezone.now()
    make_batches(rows, business_count=40, next_run_at=now - timedelta(minutes=1))
    make_batches(rows, business_count=40, platform="facebook")
    make_executions(rows, state="failed", error="apify down", finished_at=now, usage_usd=1)
    make_retries(rows, "pending")
    make_webhook_events(rows, "processed")


def _count_queries(request) -> int:
    with CaptureQueriesContext(connection) as ctx:
        assert request().status_code == 200
    return len(ctx)


def test_query_counts_do_not_grow_with_rows(admin_client_key, client) -> None:
    _fill(10)
    small = (
        _count_queries(lambda: admin_client_key.get(URL)),
        _count_queries(lambda: client.get("/metrics")),
    )
    _fill(190)  # 200 of each in all
    large = (
        _count_queries(lambda: admin_client_key.get(URL)),
        _count_queries(lambda: client.get("/metrics")),
    )
    assert small == large
    assert admin_client_key.get(URL).json()["executions"]["total"] == 200
