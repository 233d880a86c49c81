"""Cost per day, platform and team: a run's Apify usage is shared among its snapshot's teams
by their number of businesses, for new runs (team_counts) and runs recorded before it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext

from scheduler_project.dbclock import db_now
from schedules.capacity_selectors import cost_breakdown
from schedules.services.executions import execution_build


def _entry(business_id: int, team: str) -> dict:
    return {"business_id": business_id, "team_id": team, "external_id": "x", "key": "k"}


def _finished_run(snapshot: list[dict], usage: str, *, legacy: bool = False) -> None:
    now = db_now()
    execution = execution_build(
        trigger="manual", now=now, platform="google", scrape_type="reviews", snapshot=snapshot
    )
    execution.state, execution.finished_at = "succeeded", now
    execution.usage_usd = Decimal(usage)
    if legacy:
        execution.team_counts = {}  # a run from before the field existed
    execution.save()


def test_a_runs_cost_is_shared_by_team_size(db: None) -> None:
    _finished_run([_entry(1, "alice"), _entry(2, "alice"), _entry(3, "bob")], "0.30")
    _finished_run([_entry(4, "carol")], "0.10", legacy=True)

    costs = cost_breakdown(since=db_now() - timedelta(days=1))

    assert dict(costs["per_team"]) == {
        "alice": Decimal("0.2"), "bob": Decimal("0.1"), "carol": Decimal("0.1"),
    }  # fmt: skip
    assert dict(costs["per_platform"]) == {"google": Decimal("0.4")}
    assert [amount for _, amount in costs["per_day"]] == [Decimal("0.4")]


def test_the_breakdown_is_a_fixed_number_of_queries(db: None) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            cost_breakdown(since=db_now() - timedelta(days=1))
        return len(captured)

    for n in range(3):
        _finished_run([_entry(n, "alice"), _entry(n + 100, f"team-{n}")], "0.01")
    few = queries()
    for n in range(3, 30):
        _finished_run([_entry(n, "alice"), _entry(n + 100, f"team-{n}")], "0.01")
    assert queries() == few <= 6
