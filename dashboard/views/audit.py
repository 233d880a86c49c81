"""The audit log: who did what, when, to which object, before and after, and why. Reads go
through the same selector as the admin REST API (`audit_event_list`)."""

from __future__ import annotations

import json

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views import View

from access.models import AuditEvent
from access.selectors import audit_event_list
from dashboard.views.base import StaffRequiredMixin, paginate, query_without_page

# Where an audited object lives on the dashboard (the pages of other areas by their paths).
OBJECT_LINKS = {
    "schedules.batch": "/dashboard/schedules/{id}/",
    "businesses.business": "/dashboard/businesses/{id}/",
    "businesses.team": "/dashboard/teams/{id}/",
}


class AuditFilterForm(forms.Form):
    action = forms.CharField(max_length=100, required=False)
    object_type = forms.CharField(max_length=100, required=False)
    actor = forms.CharField(max_length=150, required=False)


def _compact(value: object) -> str:
    if value is None:
        return ""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def _object_url(event: AuditEvent) -> str | None:
    if event.object_type == "schedules.execution":
        return reverse("dashboard:execution", kwargs={"execution_id": event.object_id})
    template = OBJECT_LINKS.get(event.object_type)
    return template.format(id=event.object_id) if template else None


def _distinct(field: str) -> list[str]:
    return list(AuditEvent.objects.order_by(field).values_list(field, flat=True).distinct()[:200])


class AuditLogView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = AuditFilterForm(request.GET or None)
        filters = {}
        if form.is_bound:
            form.is_valid()
            filters = {k: v.strip() for k, v in form.cleaned_data.items() if v and v.strip()}
        page = paginate(request, audit_event_list(filters=filters))
        rows = [
            {
                "event": event,
                "before": _compact(event.before),
                "after": _compact(event.after),
                "url": _object_url(event),
            }
            for event in page.object_list
        ]
        return render(
            request,
            "dashboard/audit_log.html",
            {
                "form": form,
                "page": page,
                "rows": rows,
                "filters": query_without_page(request),
                "actions": _distinct("action"),
                "object_types": _distinct("object_type"),
            },
        )
