"""The overview's charts: the JSON of /dashboard/charts/data/ (buckets, percentiles, a
constant number of queries) and uPlot drawing it in a real browser, 24 h and 7 d."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import Page, expect

from scheduler_project.dbclock import db_now
from schedules.chart_selectors import chart_series
from schedules.models import CapacitySample, Execution
from tests.dashboard.conftest import PASSWORD, log_in, screenshot

URL = "/dashboard/charts/data/"


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def execution(state: str = "succeeded", *, at: datetime, trigger: str = "scheduled", **fields):
    """One execution created (and scheduled) at `at`."""
    fields.setdefault("scheduled_for", at)
    return Execution(
        platform="google", scrape_type="reviews", trigger=trigger, state=state, created_at=at,
        **fields,
    )  # fmt: skip


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("chartist", password=PASSWORD, is_staff=True)
    client.force_login(user)
    return client


def test_the_data_counts_each_state_per_hour_and_the_failure_rate(staff, db) -> None:
    bucket = hour_of(db_now()) - timedelta(hours=2)
    at = bucket + timedelta(minutes=5)
    rows = [execution("succeeded", at=at) for _ in range(3)]
    rows += [execution("failed", at=at + timedelta(minutes=n)) for n in range(2)]
    rows += [execution("running", at=at), execution("pending", at=bucket - timedelta(minutes=1))]
    rows.append(execution("succeeded", at=bucket - timedelta(hours=30)))  # outside 24 h
    Execution.objects.bulk_create(rows)

    data = staff.get(URL, {"range": "24h"}).json()

    assert data["range"] == "24h" and data["bucket"] == "hour" and len(data["x"]) == 24
    assert data["x"] == sorted(data["x"]) and data["x"][1] - data["x"][0] == 3600
    i = data["x"].index(int(bucket.timestamp()))
    assert {s: data["executions"][s][i] for s in data["states"]} == {
        "pending": 0, "starting": 0, "running": 1, "succeeded": 3, "failed": 2,
        "skipped": 0, "cancelled": 0,
    }  # fmt: skip
    assert data["executions"]["pending"][i - 1] == 1
    assert sum(sum(column) for column in data["executions"].values()) == 7
    assert data["failed"][i] == 2
    assert data["failure_rate_percent"][i] == 40.0  # 2 failed of 5 finished
    assert data["failure_rate_percent"][i - 1] is None  # nothing finished: no rate


def test_the_data_has_lateness_percentiles_per_slot_hour(staff, db) -> None:
    """p50/p99 of started_at - scheduled_for by percentile_cont (linear interpolation):
    1..100 s gives 50.5 and 99.01; 10, 20, 30, 40 s gives 25 and 39.7. A manual run's
    lateness is not the schedule's and is left out."""
    late = hour_of(db_now()) - timedelta(hours=3)
    other = late + timedelta(hours=1)
    rows = [
        execution(at=late + timedelta(seconds=n), started_at=late + timedelta(seconds=2 * n))
        for n in range(1, 101)
    ]
    rows += [
        execution(
            at=other + timedelta(minutes=n), started_at=other + timedelta(minutes=n, seconds=s)
        )
        for n, s in enumerate((40, 10, 30, 20))
    ]
    rows.append(execution(at=late, trigger="manual", started_at=late + timedelta(hours=1)))
    rows.append(execution("pending", at=late))  # not started: no lateness yet
    Execution.objects.bulk_create(rows)

    data = staff.get(URL).json()

    i = data["x"].index(int(late.timestamp()))
    assert data["percentiles"] is True
    assert data["lateness_p50_s"][i] == pytest.approx(50.5)
    assert data["lateness_p99_s"][i] == pytest.approx(99.01)
    assert data["lateness_p50_s"][i + 1] == pytest.approx(25.0)
    assert data["lateness_p99_s"][i + 1] == pytest.approx(39.7)
    assert data["lateness_p50_s"][i - 1] is None  # no execution: a gap, not a zero


def test_items_cost_and_capacity_per_hour_and_per_day(staff, db) -> None:
    now = db_now()
    bucket = hour_of(now) - timedelta(hours=1)
    done = bucket + timedelta(minutes=10)
    Execution.objects.bulk_create(
        [
            execution(at=done, finished_at=done, items_count=10, usage_usd=Decimal("0.25")),
            execution(at=done, finished_at=done, items_count=20, usage_usd=Decimal("0.5")),
            execution("failed", at=done, finished_at=done, items_count=0),
        ]
    )
    CapacitySample.objects.bulk_create(
        [
            CapacitySample(
                at=bucket + timedelta(minutes=m),
                memory_mbytes_in_use=0,
                runs_in_use=runs,
                runs_limit=4,
                waiting_executions=waiting,
                oldest_waiting_seconds=0,
            )
            for m, runs, waiting in ((1, 1, 0), (2, 3, 5))
        ]
    )

    hourly = staff.get(URL, {"range": "24h"}).json()
    i = hourly["x"].index(int(bucket.timestamp()))
    assert hourly["items"][i] == 30
    assert hourly["cost_usd"][i] == pytest.approx(0.75)
    assert hourly["capacity"] == {
        "runs_in_use_avg": [*[None] * i, 2.0, *[None] * (23 - i)],
        "runs_in_use_max": [*[None] * i, 3, *[None] * (23 - i)],
        "runs_limit": [*[None] * i, 4, *[None] * (23 - i)],
        "waiting_max": [*[None] * i, 5, *[None] * (23 - i)],
    }

    daily = staff.get(URL, {"range": "7d"}).json()
    assert daily["bucket"] == "day" and len(daily["x"]) == 7
    assert daily["x"][1] - daily["x"][0] == 86400
    day = daily["x"].index(int(bucket.replace(hour=0).timestamp()))
    assert daily["items"][day] == 30
    assert daily["cost_usd"][day] == pytest.approx(0.75)
    assert daily["executions"]["succeeded"][day] == 2
    assert daily["capacity"]["runs_in_use_max"][day] == 3


@pytest.mark.parametrize("range_key", ["24h", "7d"])
def test_the_number_of_queries_does_not_grow_with_the_executions(staff, db, range_key) -> None:
    def queries_with(count: int) -> int:
        now = db_now()
        Execution.objects.bulk_create(
            execution(
                ("succeeded", "failed", "running")[n % 3],
                at=now - timedelta(minutes=7 * n),
                started_at=now - timedelta(minutes=7 * n - 1),
                finished_at=now,
                items_count=n,
                usage_usd=Decimal("0.01"),
            )
            for n in range(count)
        )
        with CaptureQueriesContext(connection) as ctx:
            assert staff.get(URL, {"range": range_key}).status_code == 200
        Execution.objects.all().delete()
        return len(ctx.captured_queries)

    assert queries_with(3) == queries_with(30)
    with CaptureQueriesContext(connection) as ctx:
        chart_series(range_key)
    assert len(ctx.captured_queries) == 5  # the clock + one GROUP BY per source


def test_without_postgresql_there_is_no_percentile_rather_than_an_error(db, monkeypatch) -> None:
    monkeypatch.setattr(connection, "vendor", "sqlite")
    data = chart_series("24h", now=datetime.now(UTC))
    assert data["percentiles"] is False
    assert data["lateness_p50_s"] == [None] * 24 and data["lateness_p99_s"] == [None] * 24


def test_the_data_is_for_staff_and_a_known_range(client, staff, db, django_user_model) -> None:
    assert staff.get(URL, {"range": "1y"}).status_code == 400
    client.logout()
    assert client.get(URL).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("guest", password=PASSWORD))
    assert client.get(URL).status_code == 403


# --- in the browser ---------------------------------------------------------------------


def chart_ready(page: Page, range_key: str) -> None:
    expect(page.locator(f"#charts[data-state=ready][data-range='{range_key}']")).to_have_count(1)


def axis_labels(page: Page, chart: str) -> list[str]:
    return page.evaluate(f"window.GSCharts.plots['{chart}'].axes.map(a => a.label)")


def canvas_is_drawn(page: Page, chart: str) -> bool:
    """Some pixel of the chart's canvas is painted (axes, grid, lines)."""
    return page.evaluate(
        """(chart) => {
        const canvas = document.querySelector(`[data-testid=chart-${chart}] canvas`);
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        return canvas.width > 100 && pixels.data.some((v, i) => i % 4 === 3 && v > 0);
    }""",
        chart,
    )


def hover_the_latest_bucket(page: Page, chart: str) -> None:
    over = page.locator(f"[data-testid=chart-{chart}] .u-over")
    over.scroll_into_view_if_needed()
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] / 2)


@pytest.mark.django_db(transaction=True)
def test_the_overview_draws_the_charts_for_24_hours_and_7_days(page: Page, operator) -> None:
    now = db_now()
    Execution.objects.bulk_create(
        [execution("succeeded", at=now, started_at=now + timedelta(seconds=4)) for _ in range(3)]
        + [execution("failed", at=now, finished_at=now)]
    )

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    log_in(page)
    chart_ready(page, "24h")

    charts = page.locator("#charts")
    for name in ("executions", "failures", "items", "lateness", "cost", "capacity"):
        expect(charts.locator(f"[data-testid=chart-{name}] .uplot canvas")).to_have_count(1)
    assert canvas_is_drawn(page, "executions")
    assert axis_labels(page, "executions") == ["time (UTC)", "executions per hour"]
    assert axis_labels(page, "failures") == [
        "time (UTC)", "failures per hour", "% of finished",
    ]  # fmt: skip
    assert axis_labels(page, "lateness") == ["time (UTC)", "lateness (s)"]
    assert axis_labels(page, "cost")[1] == "USD per hour"
    expect(page.get_by_test_id("charts-caption")).to_have_text("last 24 hours, per hour (UTC)")

    hover_the_latest_bucket(page, "executions")
    tooltip = charts.locator("[data-testid=chart-executions] .chart-tooltip")
    expect(tooltip).to_be_visible()
    expect(tooltip).to_contain_text("succeeded: 3")
    expect(tooltip).to_contain_text("failed: 1")
    expect(tooltip).to_contain_text("UTC")
    legend = charts.locator("[data-testid=chart-executions] .u-legend")
    expect(legend).to_contain_text("3")
    hover_the_latest_bucket(page, "lateness")
    expect(charts.locator("[data-testid=chart-lateness] .chart-tooltip")).to_contain_text(
        "p50: 4 s"
    )
    screenshot(page, "overview-charts-24h")

    page.get_by_role("button", name="7 d").click()
    chart_ready(page, "7d")
    expect(page.get_by_role("button", name="7 d")).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_role("button", name="24 h")).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_test_id("charts-caption")).to_have_text("last 7 days, per day (UTC)")
    assert axis_labels(page, "executions") == ["time (UTC)", "executions per day"]
    assert page.evaluate("window.GSCharts.plots.executions.data[0].length") == 7
    assert canvas_is_drawn(page, "executions")
    hover_the_latest_bucket(page, "executions")
    expect(tooltip).to_contain_text("succeeded: 3")
    screenshot(page, "overview-charts-7d")

    page.get_by_role("button", name="24 h").click()
    chart_ready(page, "24h")
    assert axis_labels(page, "executions")[1] == "executions per hour"

    # A phone's width: every chart fits its card (one column), redrawn to the new width.
    page.set_viewport_size({"width": 420, "height": 860})
    page.wait_for_function(
        """() => Object.values(window.GSCharts.plots).every((plot) => {
            const box = plot.root.parentNode;
            return plot.width <= 420 && plot.root.offsetWidth <= box.clientWidth + 1;
        })"""
    )
    page.locator("#charts").scroll_into_view_if_needed()
    screenshot(page, "overview-charts-420")
    assert errors == []  # no script error on the way
