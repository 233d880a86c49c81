"""Reads of the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from access.models import AuditEvent


def audit_event_list(*, filters: dict | None = None) -> QuerySet[AuditEvent]:
    """Audit events, newest first, filtered by action, object_type, object_id and actor
    (each an exact match)."""
    filters = filters or {}
    queryset = AuditEvent.objects.all()
    for field in ("action", "object_type", "object_id", "actor"):
        if filters.get(field):
            queryset = queryset.filter(**{field: filters[field]})
    return queryset.order_by("-created_at", "-id")
