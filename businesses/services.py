"""Writes on teams, businesses and custom intervals; every one keeps assignments in step."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Now

from access.services import audit_event_record
from businesses.bulk import Prepared, businesses_insert, lacking_mappings
from businesses.locks import business_lock, team_lock
from businesses.models import (
    MAX_INTERVAL_MINUTES,
    MIN_INTERVAL_MINUTES,
    Business,
    CustomInterval,
    Team,
    Tier,
)
from businesses.platforms import IdentifierError, Identity, Platform, ScrapeType, get_platform
from businesses.selectors import team_exists
from scheduler_project.dbclock import db_now
from scheduler_project.errors import ConflictError
from scheduler_project.identifiers import TEAM_ID_RULE, is_valid_team_id
from schedules.services.assignment import SyncResult, assignments_create, assignments_sync

TIER_INVALID = "Unknown tier {value!r}; expected one of: {choices}."
TEAM_ID_INVALID = f"A team id is {TEAM_ID_RULE}"
SCRAPE_TYPE_INVALID = "Unknown scrape type {value!r}; expected any of: reviews, overview."
SCRAPE_TYPES_EMPTY = "Give at least one scrape type."
BUSINESS_DUPLICATE = "This team already has this {platform} business (id {id})."
NAME_TOO_LONG = "At most 300 characters."
INTERVAL_OUT_OF_RANGE = (
    f"Must be a whole number of minutes from {MIN_INTERVAL_MINUTES} to {MAX_INTERVAL_MINUTES}."
)
EXPIRY_IN_PAST = "Must be in the future."
CUSTOM_INTERVAL_MISSING = "This team has no custom interval for {scope}."


# --- validation helpers ----------------------------------------------------------------------


def _validate_tier(tier: str) -> None:
    if tier not in Tier.values:
        raise ValidationError(
            {"tier": [TIER_INVALID.format(value=tier, choices=", ".join(Tier.values))]}
        )


def _validate_scrape_types(scrape_types: Iterable[str] | None) -> list[str]:
    if scrape_types is None:
        return list(ScrapeType.values)
    chosen = list(dict.fromkeys(scrape_types))
    if not chosen:
        raise ValidationError({"scrape_types": [SCRAPE_TYPES_EMPTY]})
    for value in chosen:
        if value not in ScrapeType.values:
            raise ValidationError({"scrape_types": [SCRAPE_TYPE_INVALID.format(value=value)]})
    return chosen


def _validate_platform(platform: str) -> Platform:
    try:
        return get_platform(platform)
    except IdentifierError as exc:
        raise ValidationError({"platform": [str(exc)]}) from None


def business_identity(*, platform: str, external_id: str) -> Identity:
    """Normalise an identifier, or ValidationError naming the field and the reason."""
    registry_entry = _validate_platform(platform)
    try:
        return registry_entry.normalise(external_id)
    except IdentifierError as exc:
        raise ValidationError({"external_id": [str(exc)]}) from None


# --- teams -----------------------------------------------------------------------------------


@transaction.atomic
def team_upsert(*, team_id: str, tier: str) -> tuple[Team, bool]:
    """Create a team or change its tier; a tier change moves the team's businesses.

    Returns (team, created). A new team's id must follow TEAM_ID_RULE (it goes into URLs,
    logs and Apify inputs); a team stored before the rule keeps working, and
    `validate_global_schedules` lists it.
    """
    if not is_valid_team_id(team_id) and not team_exists(team_id=team_id):
        raise ValidationError({"team_id": [TEAM_ID_INVALID]})
    _validate_tier(tier)
    team, created = Team.objects.get_or_create(team_id=team_id, defaults={"tier": tier})
    team = team_lock(team.pk)
    if not created and team.tier != tier:
        team.tier = tier
        team.save(update_fields=["tier", "updated_at"])
    if not created:
        # Also when the tier is the same: a PUT repairs assignments that drifted.
        team_reassign(team=team)
    return team, created


def team_reassign(*, team: Team, platform: str | None = None) -> SyncResult:
    """Recompute the assignments of a team's businesses (all, or one platform's)."""
    businesses = team.businesses.all()
    if platform:
        businesses = businesses.filter(platform=platform)
    return assignments_sync(businesses=list(businesses))


# --- businesses ------------------------------------------------------------------------------


@transaction.atomic
def business_register(
    *,
    team: Team,
    platform: str,
    external_id: str,
    name: str = "",
    scrape_types: Sequence[str] | None = None,
) -> Business:
    """Register one business and assign it to a batch per scrape type."""
    team = team_lock(team.pk)
    identity = business_identity(platform=platform, external_id=external_id)
    chosen_types = _validate_scrape_types(scrape_types)
    if len(name) > 300:
        raise ValidationError({"name": [NAME_TOO_LONG]})
    existing = Business.objects.filter(team=team, platform=platform, platform_key=identity.key)
    if clash := existing.values_list("id", flat=True).first():
        raise ConflictError(
            BUSINESS_DUPLICATE.format(platform=platform, id=clash), field="external_id"
        )
    try:
        with transaction.atomic():
            business = Business.objects.create(
                team=team,
                platform=platform,
                external_id=identity.external_id,
                platform_key=identity.key,
                name=name,
                scrape_types=chosen_types,
            )
    except IntegrityError:
        # Lost a race with an identical registration.
        clash = existing.values_list("id", flat=True).first()
        raise ConflictError(
            BUSINESS_DUPLICATE.format(platform=platform, id=clash), field="external_id"
        ) from None
    assignments_sync(businesses=[business], fresh=True)
    return business


@transaction.atomic
def business_update(
    *, business: Business, name: str | None = None, active: bool | None = None
) -> Business:
    """Rename, or (de)activate: an inactive business leaves its batches."""
    business = business_lock(business)
    if name is not None:
        if len(name) > 300:
            raise ValidationError({"name": [NAME_TOO_LONG]})
        business.name = name
    reassign = active is not None and active != business.active
    if active is not None:
        business.active = active
    business.save(update_fields=["name", "active", "updated_at"])
    if reassign:
        assignments_sync(businesses=[business])
    return business


@transaction.atomic
def business_delete(*, business: Business) -> None:
    """Remove a business from its schedules, then delete it (reviews go with it)."""
    business = business_lock(business)
    business.active = False
    assignments_sync(businesses=[business])
    business.delete()


# --- bulk registration (the import path) -----------------------------------------------------


@dataclass(frozen=True)
class BusinessRow:
    team_id: str
    platform: str
    external_id: str
    name: str = ""


@dataclass
class BulkResult:
    created: int = 0
    existing: int = 0
    mappings_created: int = 0


@transaction.atomic
def businesses_bulk_register(
    *, rows: Sequence[BusinessRow], scrape_types: Sequence[str] | None = None
) -> BulkResult:
    """Register many businesses of existing teams at once; idempotent (known ones are kept).

    All rows are validated first: bad rows raise ValidationError keyed
    `rows[<index>].<field>` and nothing is written. A constant number of statements per
    call (businesses/bulk.py), whatever the row count.
    """
    chosen_types = _validate_scrape_types(scrape_types)
    errors: dict[str, list[str]] = {}
    prepared: Prepared = {}
    for index, row in enumerate(rows):
        try:
            identity = business_identity(platform=row.platform, external_id=row.external_id)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"rows[{index}].{field}"] = messages
            continue
        key = (row.team_id, row.platform, identity.key)
        prepared.setdefault(key, (identity.external_id, row.name[:300]))
    known_teams = set(
        Team.objects.filter(team_id__in={r.team_id for r in rows}).values_list("pk", flat=True)
    )
    for index, row in enumerate(rows):
        if row.team_id not in known_teams:
            errors[f"rows[{index}].team_id"] = [f"Unknown team {row.team_id!r}."]
    if errors:
        raise ValidationError(errors)

    return businesses_bulk_register_prepared(prepared=prepared, scrape_types=chosen_types)


@transaction.atomic
def businesses_bulk_register_prepared(
    *, prepared: Prepared, scrape_types: Sequence[str] | None = None
) -> BulkResult:
    """`businesses_bulk_register` of rows its caller validated and normalised, of teams
    that exist: the import checks each row once, to report it by its line."""
    chosen_types = _validate_scrape_types(scrape_types)
    existing, created = businesses_insert(prepared, chosen_types)
    # A re-run repairs an existing business that lacks one of its mappings, and touches
    # nothing else: only those are synced (found with one aggregate query).
    sync = assignments_create(businesses=created)
    repair = assignments_sync(businesses=lacking_mappings(existing))
    return BulkResult(
        created=len(created),
        existing=len(existing),
        mappings_created=sync.created + repair.created,
    )


# --- custom intervals ------------------------------------------------------------------------


def _custom_interval_locked(*, team: Team, platform: str | None) -> CustomInterval | None:
    rows = CustomInterval.objects.select_for_update().filter(team=team, platform=platform or "")
    return rows.first()


def _custom_interval_state(custom: CustomInterval | None) -> dict | None:
    if custom is None:
        return None
    return {
        "platform": custom.platform or None,
        "interval_minutes": custom.interval_minutes,
        "expires_at": custom.expires_at.isoformat() if custom.expires_at else None,
    }


@transaction.atomic
def custom_interval_set(
    *,
    team: Team,
    interval_minutes: int,
    platform: str | None = None,
    expires_at: datetime | None = None,
    reason: str = "",
    created_by: str = "",
    actor: str = "",
) -> CustomInterval:
    """Override a team's interval (for one platform or all) and move its businesses now.

    Audited as `custom_interval.set` on the team, with the override before and after and
    how many assignments moved.
    """
    if (
        not isinstance(interval_minutes, int)
        or isinstance(interval_minutes, bool)
        or not MIN_INTERVAL_MINUTES <= interval_minutes <= MAX_INTERVAL_MINUTES
    ):
        raise ValidationError({"interval_minutes": [INTERVAL_OUT_OF_RANGE]})
    if platform:
        _validate_platform(platform)
    if expires_at is not None and expires_at <= db_now():
        raise ValidationError({"expires_at": [EXPIRY_IN_PAST]})
    team = team_lock(team.pk)
    previous = _custom_interval_locked(team=team, platform=platform)
    before = _custom_interval_state(previous)
    custom, _ = CustomInterval.objects.update_or_create(
        team=team,
        platform=platform or "",
        defaults={
            "interval_minutes": interval_minutes,
            "expires_at": expires_at,
            "reason": reason,
            "created_by": created_by or actor,
        },
    )
    sync = team_reassign(team=team, platform=platform)
    audit_event_record(
        actor=actor or created_by,
        action="custom_interval.set",
        obj=team,
        before=before,
        after={**_custom_interval_state(custom), "moved": sync.moved, "created": sync.created},
        reason=reason,
    )
    return custom


@transaction.atomic
def custom_interval_remove(
    *, team: Team, platform: str | None = None, actor: str = "", reason: str = ""
) -> None:
    """Drop an override: the team falls back to its tier default (or its team-wide one).

    Audited as `custom_interval.remove` on the team.
    """
    team = team_lock(team.pk)
    previous = _custom_interval_locked(team=team, platform=platform)
    if previous is None:
        scope = f"platform {platform}" if platform else "all platforms"
        raise ValidationError({"platform": [CUSTOM_INTERVAL_MISSING.format(scope=scope)]})
    before = _custom_interval_state(previous)
    previous.delete()
    sync = team_reassign(team=team, platform=platform)
    audit_event_record(
        actor=actor,
        action="custom_interval.remove",
        obj=team,
        before=before,
        after={"platform": platform or None, "moved": sync.moved},
        reason=reason,
    )


@transaction.atomic
def custom_intervals_expire() -> int:
    """Delete overrides whose expiry has passed and move their teams back; returns count.

    Teams are locked first, in id order (the lock order of businesses/locks.py), then their
    overrides: an operator setting one at the same moment waits instead of deadlocking."""
    team_pks = sorted(
        set(CustomInterval.objects.filter(expires_at__lte=Now()).values_list("team_id", flat=True))
    )
    teams = [team_lock(pk) for pk in team_pks]
    expired = list(
        CustomInterval.objects.select_for_update().filter(
            team_id__in=team_pks, expires_at__lte=Now()
        )
    )
    CustomInterval.objects.filter(id__in=[c.id for c in expired]).delete()
    for team in teams:
        team_reassign(team=team)
    return len(expired)
