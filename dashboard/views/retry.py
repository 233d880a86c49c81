"""The retry queue: businesses that failed inside a run, retried now one by one or in bulk.

An entry is open while pending or running (OPEN_RETRY_STATES). Closed ones are history: a
succeeded entry has nothing to retry and no next attempt; a dead one (its attempts spent)
can be retried, which opens a fresh pending entry due now (`retry_force`) and leaves the
dead one as it was, replaced: it then offers nothing more either.
"""

from __future__ import annotations

from django.db.models import Case, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.views import View

from dashboard.forms import RetryFilterForm
from dashboard.views.base import ActionView, StaffRequiredMixin, actor
from dashboard.views.bulk import BulkAction, BulkView, Row
from dashboard.views.lists import list_page, render_list
from retry.models import RetryEntry, RetryState
from retry.selectors import retry_entry_list
from retry.services import (
    RETRY_BUSINESS_INACTIVE,
    RETRY_ENTRY_REPLACED,
    RETRY_ENTRY_SUCCEEDED,
    RETRY_NOT_SCHEDULED,
    RETRY_RUNNING,
    retry_entries_force,
    retry_force,
)

# Without a state filter, what needs attention comes first.
STATE_RANK = {RetryState.PENDING: 0, RetryState.DEAD: 1, RetryState.RUNNING: 2}
RETRYABLE = (RetryState.PENDING, RetryState.DEAD)


def _newer_entry() -> Subquery:
    """The id of a later entry of the same business and scrape type (it replaced this one)."""
    later = RetryEntry.objects.filter(
        business_id=OuterRef("business_id"),
        scrape_type=OuterRef("scrape_type"),
        id__gt=OuterRef("id"),
    ).order_by("-id")
    return Subquery(later.values("id")[:1])


def _entries(filters: dict) -> QuerySet[RetryEntry]:
    entries = retry_entry_list(filters=filters).annotate(newer_id=_newer_entry())
    if filters.get("batch"):
        entries = entries.filter(batch_id=filters["batch"])
    if filters.get("state"):
        return entries
    rank = Case(
        *(When(state=state, then=Value(n)) for state, n in STATE_RANK.items()),
        default=Value(len(STATE_RANK)),
        output_field=IntegerField(),
    )
    return entries.alias(state_rank=rank).order_by("state_rank", *entries.query.order_by)


def _refusal(entry: RetryEntry) -> str:
    """Why retrying this entry now would be refused ("" when it would not)."""
    if entry.state == RetryState.SUCCEEDED:
        return RETRY_ENTRY_SUCCEEDED
    if entry.state == RetryState.RUNNING:
        return RETRY_RUNNING
    if entry.newer_id:
        return RETRY_ENTRY_REPLACED.format(newer=entry.newer_id)
    if not entry.business.active:
        return RETRY_BUSINESS_INACTIVE
    if entry.scrape_type not in entry.business.scrape_types:
        return RETRY_NOT_SCHEDULED
    return ""


def _decorate(entry: RetryEntry) -> RetryEntry:
    entry.retryable = entry.state in RETRYABLE and not entry.newer_id
    entry.closed = entry.state not in (RetryState.PENDING, RetryState.RUNNING)
    return entry


class RetryQueueView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = RetryFilterForm(request.GET)
        filters = form.filters() if form.is_valid() else {}
        filters["team_id"] = filters.pop("team", "")
        page = list_page(form, _entries(filters))
        return render_list(
            request,
            template="dashboard/retry_queue.html",
            partial="dashboard/partials/retry_queue_table.html",
            form=form,
            context={
                "page": page,
                "entries": [_decorate(e) for e in page.object_list],
                "bulk_url": reverse("dashboard:retry-queue-bulk"),
                "bulk_actions": RetryBulkView.actions,
            },
        )


class RetryNowView(ActionView):
    """Retry an entry's business now, for the entry's scrape type: a pending entry is brought
    forward; a dead one gets a fresh pending entry due now."""

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


def _describe(entry: RetryEntry) -> str:
    business = entry.business
    name = business.name or business.external_id
    return f"Entry #{entry.id}: {name} #{business.id} ({business.platform}/{entry.scrape_type})"


class RetryBulkView(BulkView):
    """Retry the checked entries now (dead ones reopen, pending ones come forward)."""

    noun = ("retry entry", "retry entries")
    list_url = "dashboard:retry-queue"
    actions = (
        BulkAction(
            value="retry",
            label="Retry selected now…",
            verb="Retry",
            done="retried",
            outcome="due now: a dead entry gets a fresh pending entry, a pending one comes forward",
            run=lambda ids, reason, actor: retry_entries_force(
                entry_ids=ids, reason=reason, actor=actor
            ),
            refusal=_refusal,
        ),
    )

    def objects(self, ids: list) -> dict:
        return retry_entry_list().annotate(newer_id=_newer_entry()).in_bulk(ids)

    def row(self, obj: object) -> Row:
        return Row(_describe(obj), reverse("dashboard:business", args=[obj.business_id]), obj.state)
