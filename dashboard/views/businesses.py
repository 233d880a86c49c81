"""Businesses across teams: find one, see where it is scheduled, how it fared, retry it."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from businesses.models import Business
from businesses.selectors import business_get_any, review_feed
from dashboard.forms import NEVER, REASON_MAX, REASON_REQUIRED, BusinessFilterForm
from dashboard.views.base import ActionView, StaffRequiredMixin, actor
from dashboard.views.lists import list_page, render_list
from retry.selectors import retry_entry_list
from retry.services import retry_force
from schedules.selectors import businesses_with_assignments

RECENT_REVIEWS = 20
RECENT_RETRIES = 20
# Fields of a review payload worth a glance, in the platforms' spellings (apify_sandbox/items).
_TEXT_KEYS = ("text", "reviewText", "reviewTitle", "title")
_RATING_KEYS = ("rating", "stars", "totalScore")


def business_search(
    *, q: str = "", team: str = "", platform: str = "", status: str = ""
) -> QuerySet[Business]:
    """Businesses of every team: `q` matches the id, name or external id; `status` is the
    business's worst last status (or `never`); newest first. One query per page."""
    queryset = Business.objects.all()
    q = q.strip()
    if q:
        match = Q(name__icontains=q) | Q(external_id__icontains=q) | Q(platform_key=q)
        if q.isdigit() and len(q) < 18:
            match |= Q(id=int(q))
        queryset = queryset.filter(match)
    if team:
        queryset = queryset.filter(team_id=team)
    if platform:
        queryset = queryset.filter(platform=platform)
    if status == NEVER:
        queryset = queryset.filter(last_status__isnull=True)
    elif status:
        queryset = queryset.filter(last_status=status)
    return queryset.order_by("-id")


class BusinessListView(StaffRequiredMixin, View):
    """Each business with the last status of each of its scrape types (`outcomes`, as the
    product API reads them): one more query per page, whatever its size."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = BusinessFilterForm(request.GET)
        filters = form.filters() if form.is_valid() else {}
        page = list_page(form, business_search(**filters))
        page.object_list = businesses_with_assignments(page.object_list)
        return render_list(
            request,
            template="dashboard/businesses.html",
            partial="dashboard/partials/businesses_table.html",
            form=form,
            context={"page": page},
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


def _business_or_404(business_id: int) -> Business:
    try:
        return business_get_any(business_id=business_id)
    except Business.DoesNotExist:
        raise Http404("No such business.") from None


class BusinessDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, business_id: int) -> HttpResponse:
        business = _business_or_404(business_id)
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
            {
                "business": business,
                "reviews": reviews,
                "retries": list(retries),
                "retry_form": ForceRetryForm(business=business),
            },
        )


class ForceRetryForm(forms.Form):
    """Which of the business's scrape types to retry now, and why (audited)."""

    scrape_types = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        label="Scrape types",
        error_messages={"required": "Choose at least one scrape type to retry."},
    )
    reason = forms.CharField(
        max_length=REASON_MAX, error_messages={"required": REASON_REQUIRED}, strip=True
    )

    def __init__(self, *args: object, business: Business, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["scrape_types"]
        field.choices = [(st, st) for st in business.scrape_types]
        field.initial = list(business.scrape_types)


class BusinessRetryView(ActionView):
    def act(self, request: HttpRequest, business_id: int) -> str:
        business = _business_or_404(business_id)
        form = ForceRetryForm(request.POST, business=business)
        if not form.is_valid():
            raise ValidationError({f: list(e) for f, e in form.errors.items()})
        entries = retry_force(
            business=business,
            actor=actor(request),
            reason=form.cleaned_data["reason"],
            scrape_types=form.cleaned_data["scrape_types"],
        )
        kinds = ", ".join(e.scrape_type for e in entries)
        return f"Business {business.id}: retry due now ({kinds})."
