"""The top bar's search: one box for a business (name, external id, team), a team id, an
execution id or an Apify run id. One match opens its page; several are listed by kind."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from businesses.selectors import business_lookup, team_lookup
from dashboard.views.base import StaffRequiredMixin
from schedules.selectors import execution_lookup

# Rows shown per kind; one more is fetched to tell "there are more" (each query has a LIMIT,
# so the page costs the same whatever the data size).
LIMIT = 25
# Longer than any name or identifier a business can have (external ids are up to 500).
MAX_QUERY_LENGTH = 500


def _results(q: str) -> dict[str, list]:
    return {
        "teams": team_lookup(q=q),
        "businesses": business_lookup(q=q, limit=LIMIT + 1),
        "executions": execution_lookup(q=q, limit=LIMIT + 1),
    }


def _page_of(kind: str, row: object) -> str:
    if kind == "teams":
        return reverse("dashboard:team", args=[row.team_id])
    if kind == "businesses":
        return reverse("dashboard:business", args=[row.id])
    return reverse("dashboard:execution", args=[row.id])


class SearchView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        q = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
        results = _results(q) if q else {}
        found = [(kind, row) for kind, rows in results.items() for row in rows]
        if len(found) == 1:
            return HttpResponseRedirect(_page_of(*found[0]))
        groups = [
            {"kind": kind, "rows": rows[:LIMIT], "more": len(rows) > LIMIT}
            for kind, rows in results.items()
            if rows
        ]
        return render(
            request,
            "dashboard/search.html",
            {"q": q, "groups": groups, "limit": LIMIT, "found": bool(found)},
        )
