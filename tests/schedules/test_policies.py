"""Pure scheduling rules, with controlled time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schedules.policies import (
    CronGrid,
    IntervalGrid,
    first_slot_at_or_after,
    plan_due_slot,
    stagger_offset_seconds,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)  # a slot of every whole-hour grid
HOURLY = IntervalGrid(3600)
WINDOW = timedelta(minutes=10)


@pytest.mark.parametrize(
    ("index", "interval", "step", "offset"),
    [
        (0, 60, 5, 0),
        (1, 60, 5, 300),
        (11, 60, 5, 3300),
        (12, 60, 5, 0),
        (3, 15, 5, 0),
        (2, 4320, 5, 600),
    ],
)
def test_stagger_wraps_inside_the_interval(
    index: int, interval: int, step: int, offset: int
) -> None:
    assert stagger_offset_seconds(index, interval, step) == offset


def test_interval_grid_slots_include_the_offset() -> None:
    grid = IntervalGrid(3600, offset_seconds=300)
    assert grid.next_after(T0) == T0 + timedelta(minutes=5)
    assert grid.next_after(T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=65)
    assert grid.latest_at_or_before(T0 + timedelta(minutes=4)) == T0 - timedelta(minutes=55)
    assert first_slot_at_or_after(grid, T0 + timedelta(minutes=5)) == T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("late_by", "run_slot", "missed", "next_run"),
    [
        # On time, or late by less than the window: the slot runs, nothing is missed.
        (timedelta(seconds=3), T0, 0, T0 + timedelta(hours=1)),
        (timedelta(minutes=10), T0, 0, T0 + timedelta(hours=1)),
        # Late past the window, still before the next slot: skipped, counted.
        (timedelta(minutes=11), None, 1, T0 + timedelta(hours=1)),
        # Down for 5 h 4 min: the latest missed slot (17:00) is 4 min old → it runs once.
        (timedelta(hours=5, minutes=4), T0 + timedelta(hours=5), 5, T0 + timedelta(hours=6)),
        # Down for 5 h 30 min: the latest slot is 30 min old → wait for 18:00.
        (timedelta(hours=5, minutes=30), None, 6, T0 + timedelta(hours=6)),
    ],
)
def test_misfire_skip_runs_once_inside_the_catchup_window(
    late_by: timedelta, run_slot: datetime | None, missed: int, next_run: datetime
) -> None:
    plan = plan_due_slot(grid=HOURLY, next_run_at=T0, now=T0 + late_by, catchup_window=WINDOW)
    assert (plan.run_slot, plan.missed, plan.next_run_at) == (run_slot, missed, next_run)


def test_run_once_policy_runs_the_latest_slot_however_late() -> None:
    plan = plan_due_slot(
        grid=HOURLY,
        next_run_at=T0,
        now=T0 + timedelta(hours=5, minutes=30),
        catchup_window=WINDOW,
        always_run_once=True,
    )
    assert (plan.run_slot, plan.missed) == (T0 + timedelta(hours=5), 5)


def test_a_slot_claimed_a_moment_early_still_runs_once() -> None:
    plan = plan_due_slot(
        grid=HOURLY, next_run_at=T0, now=T0 - timedelta(milliseconds=5), catchup_window=WINDOW
    )
    assert (plan.run_slot, plan.missed, plan.next_run_at) == (T0, 0, T0 + timedelta(hours=1))


def test_an_off_grid_next_run_counts_grid_slots_after_it() -> None:
    start = T0 + timedelta(minutes=17)  # e.g. set by an operator
    plan = plan_due_slot(
        grid=HOURLY,
        next_run_at=start,
        now=T0 + timedelta(hours=2, minutes=1),
        catchup_window=WINDOW,
    )
    assert (plan.run_slot, plan.missed) == (T0 + timedelta(hours=2), 2)


def test_cron_grid_follows_the_time_zone_across_dst() -> None:
    grid = CronGrid("0 3 * * *", "Europe/Prague")
    # 2026-10-25: Prague leaves summer time (UTC+2 → UTC+1).
    before = grid.next_after(datetime(2026, 10, 24, 0, 0, tzinfo=UTC))
    after = grid.next_after(before)
    assert before == datetime(2026, 10, 24, 1, 0, tzinfo=UTC)
    assert after == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)


def test_cron_grid_adds_the_batch_offset_and_counts_missed_slots() -> None:
    grid = CronGrid("*/15 * * * *", "UTC", offset_seconds=120)
    assert grid.next_after(T0) == T0 + timedelta(minutes=2)
    assert grid.latest_at_or_before(T0 + timedelta(minutes=2)) == T0 + timedelta(minutes=2)
    plan = plan_due_slot(
        grid=grid,
        next_run_at=T0 + timedelta(minutes=2),
        now=T0 + timedelta(minutes=50),
        catchup_window=WINDOW,
    )
    assert (plan.run_slot, plan.missed) == (T0 + timedelta(minutes=47), 3)
    assert plan.next_run_at == T0 + timedelta(minutes=62)


def test_a_group_refuses_a_bad_cron_expression_or_time_zone() -> None:
    from django.core.exceptions import ValidationError

    from schedules.models import ScheduleGroup

    group = ScheduleGroup(
        platform="google",
        scrape_type="reviews",
        interval_minutes=60,
        cron_expression="61 * * *",
        timezone="Mars/Olympus",
    )
    with pytest.raises(ValidationError) as excinfo:
        group.clean()
    assert set(excinfo.value.message_dict) == {"cron_expression", "timezone"}
    ScheduleGroup(
        platform="google",
        scrape_type="reviews",
        interval_minutes=60,
        cron_expression="0 3 * * *",
        timezone="Europe/Prague",
    ).clean()
