"""Executions: the filterable history, one execution with its per-business outcome, and the
cancel / re-run actions. Reads and writes go through the same selectors and services as the
admin REST API (schedules/apis/executions.py)."""

from __future__ import annotations

from uuid import UUID

from django import forms
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
from schedules.models import Execution, Trigger
from schedules.selectors import execution_detail_get, execution_list
from schedules.services.executions import execution_cancel
from schedules.services.operations import execution_rerun
from schedules.states import ACTIVE_STATES, ExecutionState

ANY = [("", "any")]
REASON_MAX = 1000


def duration_text(ms: int | None) -> str:
    """850 ms, 12.3 s, 4 min 05 s, 1 h 02 min."""
    if ms is None:
        return ""
    if ms < 1000:
        return f"{ms} ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ExecutionFilterForm(forms.Form):
    """The history's filters, the same as the API's (`schedule_id` is the batch id)."""

    state = forms.ChoiceField(choices=ANY + ExecutionState.choices, required=False)
    trigger = forms.ChoiceField(choices=ANY + Trigger.choices, required=False)
    platform = forms.ChoiceField(choices=ANY + PLATFORM_CHOICES, required=False)
    scrape_type = forms.ChoiceField(
        choices=ANY + [(v, v) for v in ScrapeType.values], required=False
    )
    schedule_id = forms.IntegerField(min_value=1, required=False, label="Batch id")


class ExecutionListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = ExecutionFilterForm(request.GET or None)
        filters = {}
        if form.is_bound:
            form.is_valid()  # invalid fields are left out of cleaned_data and shown as errors
            filters = {k: v for k, v in form.cleaned_data.items() if v not in ("", None)}
        page = paginate(request, execution_list(filters=filters))
        rows = [{"e": e, "duration": duration_text(e.duration_ms)} for e in page.object_list]
        return render(
            request,
            "dashboard/executions.html",
            {"form": form, "page": page, "rows": rows, "filters": query_without_page(request)},
        )


class ExecutionDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, execution_id: UUID) -> HttpResponse:
        try:
            execution = execution_detail_get(execution_id=execution_id)
        except Execution.DoesNotExist as exc:
            raise Http404("No such execution.") from exc
        return render(
            request,
            "dashboard/execution.html",
            {
                "execution": execution,
                "duration": duration_text(execution.duration_ms),
                "cancellable": execution.state in ACTIVE_STATES,
                "retryable": execution.state not in ACTIVE_STATES,
                "reason_max": REASON_MAX,
            },
        )


def _reason(request: HttpRequest) -> str:
    return request.POST.get("reason", "").strip()[:REASON_MAX]


class ExecutionCancelView(ActionView):
    def act(self, request: HttpRequest, execution_id: UUID) -> str:
        try:
            execution = execution_cancel(
                execution_id=execution_id, actor=actor(request), reason=_reason(request)
            )
        except Execution.DoesNotExist as exc:
            raise Http404("No such execution.") from exc
        return f"Execution {execution.id} is {execution.state}."


class ExecutionRetryView(ActionView):
    def act(self, request: HttpRequest, execution_id: UUID) -> str:
        try:
            rerun = execution_rerun(
                execution_id=execution_id, actor=actor(request), reason=_reason(request)
            )
        except Execution.DoesNotExist as exc:
            raise Http404("No such execution.") from exc
        if rerun.execution is not None:
            return f"Re-run started: execution {rerun.execution.id}."
        count = len(rerun.retry_entries)
        return f"Retry forced: {count} retry entr{'y' if count == 1 else 'ies'} brought forward."
