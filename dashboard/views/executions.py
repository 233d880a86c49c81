"""Executions: the filterable history, one execution with its per-business outcome, and the
cancel / re-run actions. Reads and writes go through the same selectors and services as the
admin REST API (schedules/apis/executions.py)."""

from __future__ import annotations

from uuid import UUID

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from dashboard.forms import ExecutionFilterForm
from dashboard.views.base import ActionView, StaffRequiredMixin, actor
from dashboard.views.bulk import BulkAction, BulkView, Row
from dashboard.views.lists import list_page, render_list
from schedules.models import Execution
from schedules.selectors import execution_detail_get, execution_list
from schedules.services.executions import (
    EXECUTION_NOT_ACTIVE,
    execution_cancel,
    executions_cancel,
)
from schedules.services.operations import execution_rerun
from schedules.states import ACTIVE_STATES

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


class ExecutionListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = ExecutionFilterForm(request.GET)
        filters = form.filters() if form.is_valid() else {}
        page = list_page(form, execution_list(filters=filters))
        rows = [
            {"e": e, "duration": duration_text(e.duration_ms), "active": e.state in ACTIVE_STATES}
            for e in page.object_list
        ]
        return render_list(
            request,
            template="dashboard/executions.html",
            partial="dashboard/partials/executions_table.html",
            form=form,
            context={
                "page": page,
                "rows": rows,
                "bulk_url": reverse("dashboard:executions-bulk"),
                "bulk_actions": ExecutionBulkView.actions,
            },
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


def _describe(execution: Execution) -> str:
    batch = f"batch #{execution.batch_id}" if execution.batch_id else "no batch"
    return (
        f"Execution {str(execution.id)[:8]} ({execution.trigger}, {batch}, "
        f"{execution.platform}/{execution.scrape_type}, {execution.created_at:%Y-%m-%d %H:%M})"
    )


class ExecutionBulkView(BulkView):
    """Cancel the checked executions of the history, with a reason."""

    noun = ("execution", "executions")
    kind = UUID
    list_url = "dashboard:executions"
    actions = (
        BulkAction(
            value="cancel",
            label="Cancel selected…",
            verb="Cancel",
            done="cancelled",
            outcome="cancelled now; a running Apify run is aborted by reconciliation",
            run=lambda ids, reason, actor: executions_cancel(
                execution_ids=ids, reason=reason, actor=actor
            ),
            refusal=lambda e: "" if e.state in ACTIVE_STATES else EXECUTION_NOT_ACTIVE,
            style="danger",
        ),
    )

    def objects(self, ids: list) -> dict:
        return execution_list().in_bulk(ids)

    def row(self, obj: object) -> Row:
        url = reverse("dashboard:execution", kwargs={"execution_id": obj.id})
        return Row(_describe(obj), url, obj.state)
