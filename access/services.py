from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models.functions import Now
from django.utils import timezone

from access.models import ApiKey, AuditEvent
from scheduler_project.errors import ConflictError
from scheduler_project.identifiers import TEAM_ID_RULE, is_valid_team_id

API_KEY_NAME_TAKEN = "An API key with this name exists."
ADMIN_KEY_UNBOUND = "An admin key reaches every team: it cannot be bound to one."


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


def _new_secret() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"gs_{prefix}_{secrets.token_urlsafe(32).replace('_', '-')}"


def api_key_create(
    *,
    name: str,
    is_admin: bool = False,
    team_id: str = "",
    expires_at: datetime | None = None,
    actor: str = "",
) -> tuple[ApiKey, str]:
    """Create a key; returns (row, the key itself), the only time the key is seen. A key
    bound to `team_id` reaches that team's paths only; an admin key cannot be bound."""
    errors: dict[str, list[str]] = {}
    if not name or len(name) > 100:
        errors["name"] = ["A name is 1 to 100 characters."]
    elif ApiKey.objects.filter(name=name).exists():
        errors["name"] = [API_KEY_NAME_TAKEN]
    if team_id and not is_valid_team_id(team_id):
        errors["team_id"] = [TEAM_ID_RULE]
    if team_id and is_admin:
        errors["team_id"] = [ADMIN_KEY_UNBOUND]
    if expires_at is not None and expires_at <= timezone.now():
        errors["expires_at"] = ["Must be in the future."]
    if errors:
        raise ValidationError(errors)
    prefix, key = _new_secret()
    row = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=ApiKey.hash(key),
        is_admin=is_admin,
        team_id=team_id,
        expires_at=expires_at,
    )
    if actor:  # every operator path names one (command, Django admin); fixtures do not
        audit_event_record(
            actor=actor, action="api_key.create", obj=row, after={"scope": row.scope, "name": name}
        )
    return row, key


@transaction.atomic
def api_key_rotate(*, key: ApiKey, grace: timedelta, actor: str = "") -> str:
    """Give a key a new secret; the old one keeps working for `grace` (clients switch
    without downtime), then answers 401. Returns the new key, shown once."""
    key = ApiKey.objects.select_for_update().get(pk=key.pk)
    if key.revoked_at is not None:
        raise ConflictError("A revoked key cannot be rotated.")
    prefix, secret = _new_secret()
    valid_until = timezone.now() + grace
    key.previous_prefix, key.previous_key_hash = key.prefix, key.key_hash
    key.previous_valid_until = valid_until
    key.prefix, key.key_hash = prefix, ApiKey.hash(secret)
    key.save(
        update_fields=[
            "prefix",
            "key_hash",
            "previous_prefix",
            "previous_key_hash",
            "previous_valid_until",
        ]
    )
    audit_event_record(
        actor=actor,
        action="api_key.rotate",
        obj=key,
        after={"previous_valid_until": valid_until.isoformat()},
    )
    return secret


def api_keys_revoke(*, keys: Iterable[ApiKey], actor: str) -> int:
    """Revoke keys at once (they answer 401 from the next request), audited one by one."""
    revoked = 0
    for key in keys:
        if ApiKey.objects.filter(id=key.id, revoked_at__isnull=True).update(revoked_at=Now()):
            audit_event_record(actor=actor, action="api_key.revoke", obj=key)
            revoked += 1
    return revoked
