"""The audit log: who did what, when, to which object, before and after, and why. Reads go
through the same selector as the admin REST API (`audit_event_list`)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views import View

from access.models import AuditEvent
from access.selectors import audit_event_list
from dashboard.forms import AuditFilterForm
from dashboard.views.base import StaffRequiredMixin
from dashboard.views.lists import list_page, render_list

# Where an audited object lives on the dashboard (the pages of other areas by their paths).
OBJECT_LINKS = {
    "schedules.batch": "/dashboard/schedules/{id}/",
    "businesses.business": "/dashboard/businesses/{id}/",
    "businesses.team": "/dashboard/teams/{id}/",
}


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
        offered = {"action": _distinct("action"), "object_type": _distinct("object_type")}
        form = AuditFilterForm(request.GET, offered=offered)
        filters = form.filters() if form.is_valid() else {}
        page = list_page(form, audit_event_list(filters=filters))
        rows = [
            {
                "event": event,
                "before": _compact(event.before),
                "after": _compact(event.after),
                "url": _object_url(event),
            }
            for event in page.object_list
        ]
        return render_list(
            request,
            template="dashboard/audit_log.html",
            partial="dashboard/partials/audit_log_table.html",
            form=form,
            context={"page": page, "rows": rows},
        )
