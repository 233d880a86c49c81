"""The actor input of one run, built from its execution's snapshot (SPEC §7 Cost).

A place several businesses of the snapshot track is sent once (`Platform.batch_input`), and a
reviews run asks only for reviews newer than the batch's last successful scrape, less a safety
overlap, where the platform's actor takes such a bound: runs cost what is new, not the history.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Count, Min

from businesses.models import ScrapeOutcome, ScrapeStatus
from businesses.platforms import Platform, ScrapeType, Target
from scheduler_project import conf


def run_input_build(*, platform: Platform, scrape_type: str, snapshot: Sequence[dict]) -> dict:
    """The input that scrapes every business of `snapshot` (entries with business_id,
    team_id, external_id, key) in one run, bounded to new reviews when it can be."""
    targets = [
        Target(business_id=s["business_id"], external_id=s["external_id"], key=s["key"])
        for s in snapshot
    ]
    newer_than = run_newer_than(platform=platform, scrape_type=scrape_type, snapshot=snapshot)
    return platform.batch_input(scrape_type, targets, newer_than=newer_than)


def run_newer_than(
    *, platform: Platform, scrape_type: str, snapshot: Sequence[dict]
) -> datetime | None:
    """The oldest last success of the snapshot's businesses for this scrape type, less
    SCHEDULER_NEWER_THAN_OVERLAP_HOURS: every business then still gets all it has not seen.

    None (the full history, as capped) for anything but a reviews run of a platform whose actor
    takes a bound, or when any business has no last success: never scraped, or its last scrape
    failed (the outcome keeps only the last scrape, so when it last succeeded is unknown), or
    deleted since the snapshot. One query for the whole snapshot; none when no bound applies.
    """
    if scrape_type != ScrapeType.REVIEWS or not platform.newer_than_field or not snapshot:
        return None
    business_ids = {entry["business_id"] for entry in snapshot}
    found = ScrapeOutcome.objects.filter(
        business_id__in=business_ids,
        scrape_type=scrape_type,
        last_status=ScrapeStatus.SUCCEEDED,
    ).aggregate(succeeded=Count("business_id", distinct=True), oldest=Min("last_scraped_at"))
    if found["succeeded"] < len(business_ids) or found["oldest"] is None:
        return None
    return found["oldest"] - timedelta(hours=conf.get().newer_than_overlap_hours)
