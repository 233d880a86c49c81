from __future__ import annotations

from django.db import models

from admin_ui.models import AuditEvent


def audit_event_record(
    *,
    actor: str,
    action: str,
    obj: models.Model,
    before: dict | None = None,
    after: dict | None = None,
    reason: str = "",
) -> AuditEvent:
    """Record an operator's write; call it inside the write's transaction."""
    return AuditEvent.objects.create(
        actor=actor or "system",
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        before=before,
        after=after,
        reason=reason,
    )
