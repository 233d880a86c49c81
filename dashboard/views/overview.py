"""The overview: is scraping healthy, and if not, where and why?"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.models import Business, Team
from dashboard.views.base import StaffRequiredMixin
from monitoring.health import health_report
from monitoring.metrics import metrics_snapshot
from scheduler_project.dbclock import db_now
from schedules.capacity_selectors import capacity_overview, capacity_samples, cost_breakdown
from schedules.models import Heartbeat, ScheduleGroup
from schedules.selectors import executions_per_hour, group_utilisation

CHART_HOURS = 24
COST_DAYS = 7


def _hourly_chart(now: datetime) -> list[dict]:
    """24 hourly bars (oldest first), scaled to the busiest hour, for a server-drawn SVG."""
    start = (now - timedelta(hours=CHART_HOURS - 1)).replace(minute=0, second=0, microsecond=0)
    by_hour = {row["hour"]: row for row in executions_per_hour(since=start)}
    hours = [start + timedelta(hours=n) for n in range(CHART_HOURS)]
    peak = max((by_hour[h]["total"] for h in hours if h in by_hour), default=0) or 1
    bars = []
    for index, hour in enumerate(hours):
        row = by_hour.get(hour, {"total": 0, "failed": 0})
        height = round(100 * row["total"] / peak)
        failed_height = round(100 * row["failed"] / peak)
        bars.append(
            {
                "hour": hour,
                "total": row["total"],
                "failed": row["failed"],
                "x": index * 20,
                "height": height,
                "y": 110 - height,
                "failed_height": failed_height,
                "failed_y": 110 - failed_height,
            }
        )
    return bars


CHART_WIDTH, CHART_HEIGHT = 480, 110


def _capacity_chart(now: datetime) -> dict:
    """The last 24 h of the account, one point a minute: runs in use against the limit and
    the executions waiting, as SVG polylines scaled to the highest value."""
    samples = capacity_samples(since=now - timedelta(hours=CHART_HOURS))
    span = CHART_HOURS * 3600
    peak = max(
        [max(s.runs_in_use, s.runs_limit or 0, s.waiting_executions) for s in samples] or [0]
    )
    scale = CHART_HEIGHT / (peak or 1)

    def line(values: list[tuple[datetime, int]]) -> str:
        return " ".join(
            f"{CHART_WIDTH * (1 - (now - at).total_seconds() / span):.1f},"
            f"{CHART_HEIGHT - value * scale:.1f}"
            for at, value in values
        )

    return {
        "samples": len(samples),
        "peak": peak,
        "in_use": line([(s.at, s.runs_in_use) for s in samples]),
        "limit": line([(s.at, s.runs_limit) for s in samples if s.runs_limit is not None]),
        "waiting": line([(s.at, s.waiting_executions) for s in samples]),
    }


def overview_context() -> dict:
    now = db_now()
    status, checks = health_report()
    return {
        "now": now,
        "status": status,
        "checks": [{**asdict(c), "label": c.name.replace("_", " ").capitalize()} for c in checks],
        "metrics": metrics_snapshot(),
        "counts": {
            "schedules": ScheduleGroup.objects.count(),
            "businesses": Business.objects.count(),
            "teams": Team.objects.count(),
        },
        "heartbeats": list(Heartbeat.objects.order_by("-last_seen_at")[:10]),
        "chart": _hourly_chart(now),
        "groups": group_utilisation(),
        "capacity": capacity_overview(),
        "capacity_chart": _capacity_chart(now),
        "costs": cost_breakdown(since=now - timedelta(days=COST_DAYS)),
    }


class OverviewView(StaffRequiredMixin, View):
    """Refreshes itself: htmx swaps in the body partial every few seconds."""

    def get(self, request: HttpRequest) -> HttpResponse:
        template = "dashboard/overview.html"
        if request.htmx:
            template = "dashboard/partials/overview_body.html"
        return render(request, template, overview_context())
