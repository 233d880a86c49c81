"""The overview's charts: one JSON document per range, drawn in the browser by uPlot
(dashboard/static/dashboard/charts.js). The series come from schedules.chart_selectors,
bucketed by the database in a fixed number of queries."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views import View

from dashboard.views.base import StaffRequiredMixin
from schedules.chart_selectors import DEFAULT_RANGE, RANGES, chart_series


class ChartDataView(StaffRequiredMixin, View):
    """`GET /dashboard/charts/data/?range=24h|7d`: every chart's series for that range."""

    def get(self, request: HttpRequest) -> JsonResponse:
        key = request.GET.get("range", DEFAULT_RANGE)
        if key not in RANGES:
            choices = ", ".join(RANGES)
            return JsonResponse({"error": f"range must be one of {choices}."}, status=400)
        response = JsonResponse(chart_series(key))
        response["Cache-Control"] = "no-store"
        return response
