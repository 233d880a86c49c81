"""The one lock order of every write that touches a team's businesses and their schedules:

    team → its businesses (by id) → groups → batches → mappings, retry entries

Taking the team row first serialises the writes of one team (creates, tier changes, custom
intervals, deletes, retries), so they can neither deadlock nor read a tier that is about to
change; writes of different teams meet only on groups and batches, locked by id in
`schedules.services.assignment`. Call inside the write's transaction.
"""

from __future__ import annotations

from businesses.models import Business, Team


def team_lock(team_pk: int) -> Team:
    """Lock a team's row (DoesNotExist, a 404, when it is gone)."""
    return Team.objects.select_for_update().get(pk=team_pk)


def business_lock(business: Business) -> Business:
    """Lock a business after its team, re-read: one deleted meanwhile is a DoesNotExist (a
    404), never a write on a row that is gone."""
    team_lock(business.team_id)
    return Business.objects.select_for_update().get(pk=business.pk)
