"""`GET /api/v1/admin/capacity/`, the Prometheus gauges and the health check, from a real
account read (the strict fake through apify-client) and real executions."""

from __future__ import annotations

from businesses.models import Team
from monitoring.health import health_report
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.capacity import account_refresh
from schedules.services.execution_start import execution_start
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.schedules.test_admission import make_pending

URL = "/api/v1/admin/capacity/"


def _fill(fake: FakeApify, team: Team, *, runs: int, pending: int) -> None:
    fake.set_limits(max_concurrent_runs=runs, max_memory_mbytes=16384, max_monthly_usage_usd=80)
    fake.set_external_usage(usage_usd=12.5)
    account_refresh()
    (business,) = register_google(team)
    for execution_id in make_pending(business, pending):
        execution_start(execution_id=execution_id)


def test_capacity_answers_the_spec_fields(admin_client_key, fake_apify, alice) -> None:
    _fill(fake_apify, alice, runs=2, pending=3)
    body = admin_client_key.get(URL).json()
    assert {k: body[k] for k in ("runs_limit", "runs_in_use", "waiting_executions")} == {
        "runs_limit": 2,
        "runs_in_use": 2,
        "waiting_executions": 1,
    }
    assert (body["memory_mbytes_limit"], body["memory_mbytes_in_use"]) == (16384, 2048)
    assert (body["monthly_limit_usd"], body["monthly_usage_usd"]) == (80, 12.5)
    assert body["oldest_waiting_seconds"] >= 0 and body["limits_age_seconds"] < 60
    assert body["stop_reason"] == "" and body["refusals"] == 0
    for field in ("demand_run_hours_per_day", "capacity_run_hours_per_day"):
        assert field in body


def test_capacity_is_for_operators_only(product_client, anonymous_client, db) -> None:
    assert product_client.get(URL).status_code == 403
    assert anonymous_client.get(URL).status_code == 401


def test_prometheus_shows_the_account(client, fake_apify, alice, settings) -> None:
    _fill(fake_apify, alice, runs=2, pending=3)
    text = client.get("/metrics").content.decode()
    assert "scheduler_apify_runs_in_use 2.0" in text
    assert "scheduler_apify_runs_limit 2.0" in text
    assert "scheduler_apify_waiting_executions 1.0" in text
    assert "scheduler_apify_memory_mbytes_in_use 2048.0" in text


def test_health_is_critical_while_the_monthly_usage_stops_starts(fake_apify, alice) -> None:
    fake_apify.set_limits(max_monthly_usage_usd=10)
    fake_apify.set_external_usage(usage_usd=10)
    account_refresh()
    status, checks = health_report()
    (check,) = [c for c in checks if c.name == "apify_capacity"]
    assert status == "critical" and check.status == "critical"
    assert "monthly usage is at its limit" in check.reason


def test_health_warns_when_the_schedules_need_most_of_the_account(fake_apify, alice) -> None:
    fake_apify.set_limits(max_concurrent_runs=4)
    account_refresh()
    register_google(alice, 1, scrape_types=["reviews"])  # professional: two runs a day
    batch = Batch.objects.get(business_count=1)
    now = db_now()
    Execution.objects.create(  # its runs take 40 h: 80 run hours a day of 96
        batch=batch,
        platform="google",
        scrape_type="reviews",
        trigger="scheduled",
        state="succeeded",
        scheduled_for=now,
        finished_at=now,
        duration_ms=40 * 3_600_000,
        requested_memory_mbytes=1024,
    )
    _, checks = health_report()
    (check,) = [c for c in checks if c.name == "apify_capacity"]
    assert check.status == "warning" and check.value == 83.3
    assert "more at free" in check.reason and "more at enterprise" in check.reason
