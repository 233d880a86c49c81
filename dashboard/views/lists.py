"""What the list pages share: validated filters, a page of rows, and a live refresh.

Each list page wraps its table partial in `<div id="live-rows" hx-get="(its own URL)"
hx-trigger="every Ns">`; htmx polls it and the view answers the partial alone (the same
query string: filters and page number stay). static/dashboard/live.js skips a poll while
the operator is busy with the list (a row checked for a bulk action, a row's form open or a
field in it focused), so a refresh never drops a selection or a half-typed reason; the
swap is the rows' region only, so the scroll position stays.
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from dashboard.forms import ListFilterForm
from dashboard.views.base import PAGE_SIZE, query_without_page
from scheduler_project import conf

LIVE_TARGET = "live-rows"  # the id of the polled region (htmx sends it as HX-Target)


def poll_seconds() -> int:
    return conf.get().dashboard_poll_seconds


def list_page(form: ListFilterForm, queryset: QuerySet, per_page: int = PAGE_SIZE) -> Page:
    """The requested page of the filtered rows; with a bad filter, an empty page (the rows
    of a half-applied filter would be the wrong rows to act on)."""
    if not form.is_valid():
        return Paginator([], per_page).get_page(1)
    return Paginator(queryset, per_page).get_page(form.page_number())


def is_live_poll(request: HttpRequest) -> bool:
    return bool(request.htmx) and request.htmx.target == LIVE_TARGET


def render_list(
    request: HttpRequest, *, template: str, partial: str, form: ListFilterForm, context: dict
) -> HttpResponse:
    """The whole page, or its rows' partial for the live refresh; 400 for a bad filter."""
    context = {
        "form": form,
        "filters": query_without_page(request),
        "poll_seconds": poll_seconds(),
        "live_target": LIVE_TARGET,
        **context,
    }
    response = render(
        request,
        partial if is_live_poll(request) else template,
        context,
        status=200 if form.is_valid() else 400,
    )
    patch_vary_headers(response, ("HX-Request", "HX-Target"))  # never cache one for the other
    return response
