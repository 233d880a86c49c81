"""Product webhook endpoints: subscribe, change, rotate the signing secret, unsubscribe.
Every write is audited; the secret is returned once, never stored anywhere else."""

from __future__ import annotations

import base64
import secrets
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import transaction

from access.services import audit_event_record
from businesses.models import Team
from notifications.models import WebhookEndpoint
from notifications.models.webhooks import SUBSCRIBABLE
from notifications.url_guard import url_check
from scheduler_project import conf
from scheduler_project.dbclock import db_now

SECRET_PREFIX = "whsec_"
# After a rotation the old secret signs too, so a receiver can switch without losing events.
ROTATION_OVERLAP = timedelta(hours=24)
NO_EVENTS = "Subscribe to at least one event."
UNKNOWN_EVENT = "Unknown event {event!r}: use {known}."
UNKNOWN_TEAM = "No team has the id {team_id!r}."
OTHER_TEAM = "This key is bound to team {team}: an endpoint of team {team_id} is out of its reach."


def new_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _events_checked(events: list[str]) -> list[str]:
    if not events:
        raise ValidationError({"events": [NO_EVENTS]})
    known = ", ".join(SUBSCRIBABLE)
    for event in events:
        if event not in SUBSCRIBABLE:
            raise ValidationError({"events": [UNKNOWN_EVENT.format(event=event, known=known)]})
    return sorted(set(events))


def _team_checked(team_id: str | None, bound_team: str | None) -> Team | None:
    """A bound key's endpoint is its team's, whatever the body says."""
    if bound_team is not None and team_id not in (None, bound_team):
        raise ValidationError({"team_id": [OTHER_TEAM.format(team=bound_team, team_id=team_id)]})
    team_id = bound_team or team_id
    if team_id is None:
        return None
    team = Team.objects.filter(team_id=team_id).first()
    if team is None:
        raise ValidationError({"team_id": [UNKNOWN_TEAM.format(team_id=team_id)]})
    return team


def _snapshot(endpoint: WebhookEndpoint) -> dict:
    return {
        "url": endpoint.url,
        "events": endpoint.events,
        "team_id": endpoint.team_id,
        "enabled": endpoint.enabled,
        "description": endpoint.description,
    }


@transaction.atomic
def endpoint_create(
    *,
    url: str,
    events: list[str],
    team_id: str | None = None,
    bound_team: str | None = None,
    description: str = "",
    actor: str = "",
) -> tuple[WebhookEndpoint, str]:
    """Subscribe a URL; returns the endpoint and its signing secret (shown this once)."""
    events = _events_checked(events)
    team = _team_checked(team_id, bound_team)
    url_check(url, allow_private=conf.get().webhook_allow_private_urls)
    secret = new_secret()
    endpoint = WebhookEndpoint.objects.create(
        url=url,
        events=events,
        team=team,
        description=description,
        secret=secret,
        created_by=actor,
    )
    audit_event_record(
        actor=actor, action="webhook_endpoint.create", obj=endpoint, after=_snapshot(endpoint)
    )
    return endpoint, secret


@transaction.atomic
def endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: str,
    events: list[str] | None = None,
    enabled: bool | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change what an endpoint receives or switch it on and off. Enabling one that was
    disabled for failing starts its failure clock again."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    before = _snapshot(endpoint)
    if events is not None:
        endpoint.events = _events_checked(events)
    if description is not None:
        endpoint.description = description
    if enabled is not None and enabled != endpoint.enabled:
        endpoint.enabled = enabled
        endpoint.disabled_reason = "" if enabled else f"Disabled by {actor or 'an operator'}."
        endpoint.failing_since = None
    endpoint.save()
    audit_event_record(
        actor=actor,
        action="webhook_endpoint.update",
        obj=endpoint,
        before=before,
        after=_snapshot(endpoint),
    )
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor: str) -> str:
    """A new signing secret; the old one keeps signing beside it for ROTATION_OVERLAP."""
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_valid_until = db_now() + ROTATION_OVERLAP
    endpoint.secret = new_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_valid_until", "updated_at"])
    audit_event_record(actor=actor, action="webhook_endpoint.rotate_secret", obj=endpoint)
    return endpoint.secret


@transaction.atomic
def endpoint_delete(*, endpoint: WebhookEndpoint, actor: str) -> None:
    """Unsubscribe: the endpoint and its delivery log go."""
    audit_event_record(
        actor=actor, action="webhook_endpoint.delete", obj=endpoint, before=_snapshot(endpoint)
    )
    endpoint.delete()
