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
from schedules.models import Heartbeat, ScheduleGroup
from schedules.selectors import executions_per_hour, group_utilisation

CHART_HOURS = 24


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
    }


class OverviewView(StaffRequiredMixin, View):
    """Refreshes itself: htmx swaps in the body partial every few seconds."""

    def get(self, request: HttpRequest) -> HttpResponse:
        template = "dashboard/overview.html"
        if request.htmx:
            template = "dashboard/partials/overview_body.html"
        return render(request, template, overview_context())
