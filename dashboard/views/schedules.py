"""Schedules: every batch of every global schedule, one batch's detail, and the operator's
controls on them (pause, resume, trigger now, rebalance, consolidate).

Reads go through the same selectors as the admin REST API, writes through the same services
(which record the audit event with the operator's name).
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, F, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from businesses.models import ScrapeStatus
from businesses.platforms import PLATFORM_CHOICES, ScrapeType
from dashboard.forms import ScheduleFilterForm, interval_label
from dashboard.views.base import PAGE_SIZE, ActionView, StaffRequiredMixin, actor
from dashboard.views.bulk import BulkAction, BulkView, Row
from dashboard.views.lists import list_page, render_list
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, Execution, Mapping
from schedules.selectors import batch_detail_get, batch_list, batch_mappings, execution_list
from schedules.services.batches import (
    BATCH_NOT_ACTIVE,
    BATCH_NOT_PAUSED,
    batch_pause,
    batch_resume,
    batch_trigger,
    batches_pause,
    batches_resume,
)
from schedules.services.operations import GroupMoves, groups_consolidate, groups_rebalance

REASON_MAX_LENGTH = 1000
REASON_REQUIRED = "Say why the batch is paused (the reason is shown on the page and audited)."


class GroupSweepForm(forms.Form):
    """Which groups a rebalance or consolidation covers (none given: every group)."""

    platform = forms.ChoiceField(choices=[("", "any"), *PLATFORM_CHOICES], required=False)
    scrape_type = forms.ChoiceField(choices=[("", "any"), *ScrapeType.choices], required=False)
    interval = forms.IntegerField(min_value=1, required=False)


def _latest_execution(field: str) -> Subquery:
    """One column of the batch's newest execution (served by `execution_batch_idx`)."""
    newest = Execution.objects.filter(batch=OuterRef("pk")).order_by(
        "-scheduled_for", "-created_at"
    )
    return Subquery(newest.values(field)[:1])


def _describe(batch: Batch) -> str:
    group = batch.group
    return (
        f"Batch {batch.id} ({group.platform}/{group.scrape_type} every "
        f"{interval_label(group.interval_minutes)}, #{batch.batch_index})"
    )


def _decorate(batch: Batch) -> Batch:
    batch.interval_label = interval_label(batch.group.interval_minutes)
    batch.percent = round(100 * batch.business_count / batch.capacity, 1) if batch.capacity else 0.0
    batch.meter_class = ""
    if batch.percent > 95:
        batch.meter_class = "critical"
    elif batch.percent > 80:
        batch.meter_class = "warning"
    return batch


def duration_label(milliseconds: int | None) -> str:
    """1234 → "1.2 s", 754000 → "12 min 34 s"; None → "" (not finished)."""
    if milliseconds is None:
        return ""
    if milliseconds < 60_000:
        return f"{milliseconds / 1000:.1f} s"
    minutes, seconds = divmod(round(milliseconds / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s"


def _with_duration(execution: Execution) -> Execution:
    execution.duration_label = duration_label(execution.duration_ms)
    return execution


def _misfire_context() -> dict:
    return {"catchup_minutes": round(conf.get().catchup_window_seconds / 60)}


def _failing_businesses() -> Coalesce:
    """How many of the batch's businesses failed their last scrape of the batch's scrape type
    (their `ScrapeOutcome`): the per-type status, one subquery per row of the same query."""
    failing = (
        Mapping.objects.filter(
            batch=OuterRef("pk"),
            business__scrape_outcomes__scrape_type=F("scrape_type"),
            business__scrape_outcomes__last_status=ScrapeStatus.FAILED,
        )
        .order_by()
        .values("batch")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(failing, output_field=IntegerField()), 0)


class ScheduleListView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = ScheduleFilterForm(request.GET)
        filters = form.filters() if form.is_valid() else {}
        queryset = batch_list(filters=filters).annotate(
            last_state=_latest_execution("state"),
            last_execution_id=_latest_execution("id"),
            failing=_failing_businesses(),
        )
        page = list_page(form, queryset)
        sweep = {k: filters.get(k) for k in ("platform", "scrape_type", "interval")}
        scope = " / ".join(
            str(interval_label(v) if k == "interval" else v) for k, v in sweep.items() if v
        )
        context = {
            "page": page,
            "batches": [_decorate(b) for b in page.object_list],
            "sweep": sweep,
            "sweep_scope": scope or "every schedule",
            "now": db_now(),
            "bulk_url": reverse("dashboard:schedules-bulk"),
            "bulk_actions": ScheduleBulkView.actions,
            **_misfire_context(),
        }
        return render_list(
            request,
            template="dashboard/schedules.html",
            partial="dashboard/partials/schedules_table.html",
            form=form,
            context=context,
        )


class ScheduleDetailView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest, batch_id: int) -> HttpResponse:
        now = db_now()
        try:
            batch = batch_detail_get(batch_id=batch_id, now=now)
        except Batch.DoesNotExist as exc:
            raise Http404("No such batch.") from exc
        _decorate(batch)
        businesses = Paginator(batch_mappings(batch=batch), PAGE_SIZE).get_page(
            request.GET.get("bpage")
        )
        executions = Paginator(
            execution_list(filters={"schedule_id": batch.id}), PAGE_SIZE
        ).get_page(request.GET.get("epage"))
        executions.object_list = [_with_duration(e) for e in executions.object_list]
        return render(
            request,
            "dashboard/schedule_detail.html",
            {
                "batch": batch,
                "businesses": businesses,
                "executions": executions,
                "businesses_param": f"bpage={businesses.number}",
                "executions_param": f"epage={executions.number}",
                "total_executions": sum(batch.execution_counts.values()),
                "now": now,
                **_misfire_context(),
            },
        )


class _BatchAction(ActionView):
    """A write on one batch; an unknown batch is a 404."""

    def act(self, request: HttpRequest, **kwargs: object) -> str:
        try:
            return self.act_on(request, int(kwargs["batch_id"]))
        except Batch.DoesNotExist as exc:
            raise Http404("No such batch.") from exc

    def act_on(self, request: HttpRequest, batch_id: int) -> str:
        raise NotImplementedError


class BatchPauseView(_BatchAction):
    def act_on(self, request: HttpRequest, batch_id: int) -> str:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            raise ValidationError({"reason": [REASON_REQUIRED]})
        if len(reason) > REASON_MAX_LENGTH:
            raise ValidationError(
                {"reason": [f"Keep the reason under {REASON_MAX_LENGTH} characters."]}
            )
        batch = batch_pause(batch_id=batch_id, reason=reason, actor=actor(request))
        return f"{_describe(batch)} paused: {reason}"


class BatchResumeView(_BatchAction):
    def act_on(self, request: HttpRequest, batch_id: int) -> str:
        batch = batch_resume(batch_id=batch_id, actor=actor(request))
        return f"{_describe(batch)} resumed; next run {batch.next_run_at:%Y-%m-%d %H:%M:%S} UTC."


class BatchTriggerView(_BatchAction):
    def act_on(self, request: HttpRequest, batch_id: int) -> str:
        execution = batch_trigger(batch_id=batch_id, actor=actor(request))
        return (
            f"Batch {batch_id} triggered: execution {execution.id} is {execution.state}. "
            "Its scheduled runs are unchanged."
        )


class _GroupSweepView(ActionView):
    verb = ""
    service = staticmethod(groups_rebalance)

    def act(self, request: HttpRequest, **kwargs: object) -> str:
        form = GroupSweepForm(request.POST)
        if not form.is_valid():
            raise ValidationError(form.errors.as_data())
        scope = {k: v for k, v in form.cleaned_data.items() if v}
        results: list[GroupMoves] = self.service(**scope, actor=actor(request))
        changed = [r for r in results if r.moved or r.retired]
        moved = sum(r.moved for r in results)
        retired = sum(r.retired for r in results)
        return (
            f"{self.verb} {len(results)} schedule(s): {len(changed)} changed, "
            f"{moved} business assignment(s) moved, {retired} batch(es) retired."
        )


class ScheduleRebalanceView(_GroupSweepView):
    verb = "Rebalanced"
    service = staticmethod(groups_rebalance)


class ScheduleConsolidateView(_GroupSweepView):
    verb = "Consolidated"
    service = staticmethod(groups_consolidate)


def _batch_refusal(status: str, message: str) -> Callable[[Batch], str]:
    return lambda batch: "" if batch.status == status else message.format(status=batch.status)


class ScheduleBulkView(BulkView):
    """Pause or resume the checked batches of the schedules list, with a reason."""

    noun = ("batch", "batches")
    list_url = "dashboard:schedules"
    actions = (
        BulkAction(
            value="pause",
            label="Pause selected…",
            verb="Pause",
            done="paused",
            outcome="paused: no run is dispatched until it is resumed",
            run=lambda ids, reason, actor: batches_pause(batch_ids=ids, reason=reason, actor=actor),
            refusal=_batch_refusal(BatchStatus.ACTIVE, BATCH_NOT_ACTIVE),
            style="danger",
        ),
        BulkAction(
            value="resume",
            label="Resume selected…",
            verb="Resume",
            done="resumed",
            outcome="resumed at its next slot",
            run=lambda ids, reason, actor: batches_resume(
                batch_ids=ids, reason=reason, actor=actor
            ),
            refusal=_batch_refusal(BatchStatus.PAUSED, BATCH_NOT_PAUSED),
        ),
    )

    def objects(self, ids: list) -> dict:
        return batch_list().in_bulk(ids)

    def row(self, obj: object) -> Row:
        return Row(_describe(obj), reverse("dashboard:schedule", args=[obj.id]), obj.status)
