"""The overview: is scraping healthy, and if not, where and why?"""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.models import Business, Team
from dashboard.views.base import StaffRequiredMixin
from monitoring.health import health_report
from monitoring.metrics import metrics_snapshot
from scheduler_project.dbclock import db_now
from schedules.capacity_selectors import capacity_overview, cost_breakdown
from schedules.models import Heartbeat, ScheduleGroup
from schedules.selectors import group_utilisation

COST_DAYS = 7


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
        "groups": group_utilisation(),
        "capacity": capacity_overview(),
        "costs": cost_breakdown(since=now - timedelta(days=COST_DAYS)),
    }


class OverviewView(StaffRequiredMixin, View):
    """Refreshes itself: htmx swaps in the body partial every few seconds."""

    def get(self, request: HttpRequest) -> HttpResponse:
        template = "dashboard/overview.html"
        if request.htmx:
            template = "dashboard/partials/overview_body.html"
        return render(request, template, overview_context())
