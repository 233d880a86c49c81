from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db.models import Q
from django.db.models.functions import Now

from businesses.models import CustomInterval, Team
from businesses.platforms import PLATFORMS


def tier_interval_minutes(tier: str) -> int:
    return int(settings.SCHEDULER_TIER_INTERVALS[tier])


def effective_intervals(
    teams: Iterable[Team], *, now: datetime | None = None
) -> dict[tuple[str, str], int]:
    """(team_id, platform) → interval in minutes: a live platform-specific custom interval,
    else a live team-wide one, else the tier default. One query whatever the team count."""
    teams = list(teams)
    live = Q(expires_at__isnull=True) | Q(expires_at__gt=now if now else Now())
    overrides = {
        (ci.team_id, ci.platform): ci.interval_minutes
        for ci in CustomInterval.objects.filter(live, team__in=[t.pk for t in teams])
    }
    result = {}
    for team in teams:
        default = overrides.get((team.pk, ""), tier_interval_minutes(team.tier))
        for platform in PLATFORMS:
            result[(team.pk, platform)] = overrides.get((team.pk, platform), default)
    return result


def team_effective_intervals(team: Team) -> dict[str, int]:
    """platform → minutes, as a team's GET shows it."""
    return {platform: m for (_, platform), m in effective_intervals([team]).items()}
