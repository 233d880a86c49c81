from collections.abc import Iterable
from datetime import datetime

from django.db.models import Q, QuerySet

from businesses.models import Business, CustomInterval, ReviewItem, Team
from businesses.platforms import PLATFORMS
from businesses.url_identifiers import IdentifierError
from scheduler_project import conf


def tier_interval_minutes(tier: str) -> int:
    return int(conf.get().tier_intervals[tier])


def effective_intervals(teams: Iterable[Team]) -> dict[tuple[str, str], int]:
    """(team_id, platform) → interval in minutes: a platform-specific custom interval, else a
    team-wide one, else the tier default. One query whatever the team count.

    An override is in effect until the expiry sweep removes it (within a minute of its
    `expires_at`) and moves the team's businesses back: what this answers is always where
    the businesses are, never a moment where the two disagree."""
    teams = list(teams)
    overrides = {
        (ci.team_id, ci.platform): ci.interval_minutes
        for ci in CustomInterval.objects.filter(team__in=[t.pk for t in teams])
    }
    tier_intervals = conf.get().tier_intervals  # once: reading the knobs costs ~0.1 ms
    result = {}
    for team in teams:
        default = overrides.get((team.pk, ""), int(tier_intervals[team.tier]))
        for platform in PLATFORMS:
            result[(team.pk, platform)] = overrides.get((team.pk, platform), default)
    return result


def team_effective_intervals(team: Team) -> dict[str, int]:
    """platform → minutes, as a team's GET shows it."""
    return {platform: m for (_, platform), m in effective_intervals([team]).items()}


def team_get(*, team_id: str) -> Team:
    """The team of a request path; DoesNotExist (a 404) otherwise."""
    if "\x00" in team_id:
        # PostgreSQL text cannot hold NUL: no team has it, and the query would fail (a 500).
        raise Team.DoesNotExist
    return Team.objects.get(team_id=team_id)


def team_exists(*, team_id: str) -> bool:
    """Whether a team has this id (one with NUL, which no stored id can hold, has none)."""
    return "\x00" not in team_id and Team.objects.filter(team_id=team_id).exists()


def business_list(*, team: Team, filters: dict | None = None) -> QuerySet[Business]:
    """A team's businesses, filtered; pair a page of them with
    `schedules.selectors.businesses_with_assignments`."""
    filters = filters or {}
    queryset = Business.objects.filter(team=team)
    if filters.get("platform"):
        queryset = queryset.filter(platform=filters["platform"])
    if filters.get("status") == "never":
        queryset = queryset.filter(last_status__isnull=True)
    elif filters.get("status"):
        queryset = queryset.filter(last_status=filters["status"])
    if filters.get("active") is not None:
        queryset = queryset.filter(active=filters["active"])
    return queryset.order_by("id")


def business_get(*, team: Team, business_id: int) -> Business:
    """One business of THIS team: another team's id is a 404."""
    return Business.objects.get(team=team, id=business_id)


def review_feed(*, business: Business, since: datetime | None = None) -> QuerySet[ReviewItem]:
    queryset = ReviewItem.objects.filter(business=business)
    if since is not None:
        queryset = queryset.filter(scraped_at__gte=since)
    return queryset


def business_get_any(*, business_id: int) -> Business:
    """Any team's business, for operators; DoesNotExist (a 404) otherwise."""
    return Business.objects.get(id=business_id)


def team_lookup(*, q: str) -> list[Team]:
    """The team whose id is exactly `q` (the primary key), for the dashboard's search."""
    q = q.strip()
    if not q or "\x00" in q or len(q) > Team._meta.get_field("team_id").max_length:
        return []
    return list(Team.objects.filter(team_id=q))


def business_lookup(*, q: str, limit: int) -> list[Business]:
    """Businesses of every team that `q` names, newest first, at most `limit`, in one query:
    its id, its identifier on a platform (normalised as registering it would, so a pasted URL
    or place id finds it through `business_platform_key_idx`), its team's id (the team
    foreign key's index), or part of its name or external id: that last part scans the
    table, which `limit` bounds (the newest-first walk of the primary key stops there)."""
    q = q.replace("\x00", "").strip()
    if not q:
        return []
    match = Q(name__icontains=q) | Q(external_id__icontains=q)
    if len(q) <= Team._meta.get_field("team_id").max_length:
        match |= Q(team_id=q)
    digits = q.removeprefix("#")
    if digits.isdigit() and len(digits) < 18:
        match |= Q(id=int(digits))
    for name, platform in PLATFORMS.items():
        try:
            identity = platform.normalise(q)
        except IdentifierError:
            continue
        match |= Q(platform=name, platform_key=identity.key)
    return list(Business.objects.filter(match).order_by("-id")[:limit])
