"""The retry queue: businesses that failed inside a run, and a button to retry one now."""

from __future__ import annotations

from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from dashboard.views.base import (
    ActionView,
    StaffRequiredMixin,
    actor,
    paginate,
    query_without_page,
)
from retry.models import RetryEntry, RetryState
from retry.selectors import retry_entry_list
from retry.services import retry_force

# Without a state filter, what needs attention comes first.
STATE_RANK = {RetryState.PENDING: 0, RetryState.DEAD: 1, RetryState.RUNNING: 2}


class RetryQueueView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        filters = {
            "state": _choice(request, "state", RetryState.values),
            "platform": _choice(request, "platform", dict(PLATFORM_CHOICES)),
            "scrape_type": _choice(request, "scrape_type", ScrapeType.values),
            "team_id": request.GET.get("team", "").strip().replace("\x00", ""),
        }
        entries = retry_entry_list(filters=filters)
        if not filters["state"]:
            rank = Case(
                *(When(state=state, then=Value(n)) for state, n in STATE_RANK.items()),
                default=Value(len(STATE_RANK)),
                output_field=IntegerField(),
            )
            entries = entries.alias(state_rank=rank).order_by("state_rank", *entries.query.order_by)
        return render(
            request,
            "dashboard/retry_queue.html",
            {
                "page": paginate(request, entries),
                "selected": filters,
                "states": RetryState.values,
                "platforms": PLATFORM_CHOICES,
                "scrape_types": ScrapeType.values,
                "filters": query_without_page(request),
            },
        )


def _choice(request: HttpRequest, name: str, allowed: object) -> str:
    value = request.GET.get(name, "")
    return value if value in allowed else ""


class RetryNowView(ActionView):
    """Retry an entry's business now, for the entry's scrape type: a pending entry is brought
    forward; a dead (or succeeded) one gets a fresh pending entry due now."""

    def act(self, request: HttpRequest, entry_id: int) -> str:
        try:
            entry = retry_entry_list().get(id=entry_id)
        except RetryEntry.DoesNotExist:
            raise Http404("No such retry entry.") from None
        retry_force(
            business=entry.business,
            actor=actor(request),
            reason=request.POST.get("reason", "")[:1000],
            scrape_types=[entry.scrape_type],
        )
        return f"Business {entry.business_id} ({entry.scrape_type}): retry due now."
