"""Businesses across teams: find one, see where it is scheduled, how it fared, retry it."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.models import Business
from businesses.platforms import PLATFORM_CHOICES
from businesses.selectors import business_get_any, review_feed
from dashboard.views.base import (
    ActionView,
    StaffRequiredMixin,
    actor,
    paginate,
    query_without_page,
)
from retry.selectors import retry_entry_list
from retry.services import retry_force
from schedules.selectors import businesses_with_assignments

RECENT_REVIEWS = 20
RECENT_RETRIES = 20
# Fields of a review payload worth a glance, in the platforms' spellings (apify_sandbox/items).
_TEXT_KEYS = ("text", "reviewText", "reviewTitle", "title")
_RATING_KEYS = ("rating", "stars", "totalScore")


def business_search(*, q: str = "", team_id: str = "", platform: str = "") -> QuerySet[Business]:
    """Businesses of every team: `q` matches the id, name or external id; newest first.
    Every column the list shows is on the business row: one query per page."""
    queryset = Business.objects.all()
    q = q.replace("\x00", "").strip()
    if q:
        match = Q(name__icontains=q) | Q(external_id__icontains=q) | Q(platform_key=q)
        if q.isdigit() and len(q) < 18:
            match |= Q(id=int(q))
        queryset = queryset.filter(match)
    if team_id:
        queryset = queryset.filter(team_id=team_id.replace("\x00", ""))
    if platform:
        queryset = queryset.filter(platform=platform)
    return queryset.order_by("-id")


class BusinessListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        q = request.GET.get("q", "").strip()
        team_id = request.GET.get("team", "").strip()
        platform = request.GET.get("platform", "")
        if platform not in dict(PLATFORM_CHOICES):
            platform = ""
        businesses = business_search(q=q, team_id=team_id, platform=platform)
        return render(
            request,
            "dashboard/businesses.html",
            {
                "page": paginate(request, businesses),
                "q": q,
                "team": team_id,
                "platform": platform,
                "platforms": PLATFORM_CHOICES,
                "filters": query_without_page(request),
            },
        )


def _summary(payload: object) -> dict:
    """The text and rating of a review item, when its payload has them."""
    if not isinstance(payload, dict):
        return {"text": "", "rating": None}
    text = next((payload[k] for k in _TEXT_KEYS if isinstance(payload.get(k), str)), "")
    parts = payload.get("reviewTextParts")
    if not text and isinstance(parts, dict):
        text = " · ".join(f"{k}: {v}" for k, v in parts.items() if v)
    rating = next((payload[k] for k in _RATING_KEYS if payload.get(k) not in (None, "")), None)
    return {"text": text, "rating": rating}


class BusinessDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, business_id: int) -> HttpResponse:
        try:
            business = business_get_any(business_id=business_id)
        except Business.DoesNotExist:
            raise Http404("No such business.") from None
        businesses_with_assignments([business])
        reviews = list(
            review_feed(business=business).order_by("-scraped_at", "-id")[:RECENT_REVIEWS]
        )
        for review in reviews:
            review.summary = _summary(review.payload)
        retries = retry_entry_list().filter(business=business)[:RECENT_RETRIES]
        return render(
            request,
            "dashboard/business.html",
            {"business": business, "reviews": reviews, "retries": list(retries)},
        )


class BusinessRetryView(ActionView):
    def act(self, request: HttpRequest, business_id: int) -> str:
        try:
            business = business_get_any(business_id=business_id)
        except Business.DoesNotExist:
            raise Http404("No such business.") from None
        entries = retry_force(
            business=business, actor=actor(request), reason=request.POST.get("reason", "")[:1000]
        )
        kinds = ", ".join(e.scrape_type for e in entries)
        return f"Business {business.id}: retry due now ({kinds})."
