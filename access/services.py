from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Now

from access.models import ApiKey, AuditEvent

API_KEY_NAME_TAKEN = "An API key with this name exists."


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


def api_key_create(*, name: str, is_admin: bool = False) -> tuple[ApiKey, str]:
    """Create a key; returns (row, the key itself), the only time the key is seen."""
    if not name or len(name) > 100:
        raise ValidationError({"name": ["A name is 1 to 100 characters."]})
    if ApiKey.objects.filter(name=name).exists():
        raise ValidationError({"name": [API_KEY_NAME_TAKEN]})
    prefix = secrets.token_hex(4)
    key = f"gs_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"
    row = ApiKey.objects.create(
        name=name, prefix=prefix, key_hash=ApiKey.hash(key), is_admin=is_admin
    )
    return row, key


def api_keys_revoke(*, keys: Iterable[ApiKey], actor: str) -> int:
    """Revoke keys at once (they answer 401 from the next request), audited one by one."""
    revoked = 0
    for key in keys:
        if ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(revoked_at=Now()):
            audit_event_record(actor=actor, action="api_key.revoke", obj=key)
            revoked += 1
    return revoked
