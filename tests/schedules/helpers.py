from __future__ import annotations

from django.db.models import Count

from schedules.models import Batch


def assert_counts_exact() -> None:
    """Every denormalised business_count equals a recount of its mappings."""
    drift = {
        b.id: (b.business_count, b.recount)
        for b in Batch.objects.annotate(recount=Count("mappings"))
        if b.business_count != b.recount or b.recount > b.capacity
    }
    assert drift == {}, f"batch id: (business_count, recount) {drift}"


def make_batch(
    *,
    next_run_at,
    interval: int = 60,
    platform: str = "google",
    index: int = 0,
    **fields: object,
) -> Batch:
    """A batch placed directly, for dispatch tests that control its time."""
    from schedules.models import ScheduleGroup

    group, _ = ScheduleGroup.objects.get_or_create(
        platform=platform, scrape_type="reviews", interval_minutes=interval, cron_expression=""
    )
    # Put the batch's grid through `next_run_at` (whole seconds), as its stagger would.
    fields.setdefault("stagger_offset_seconds", int(next_run_at.timestamp()) % (interval * 60))
    fields.setdefault("capacity", 100)
    fields.setdefault("business_count", 1)
    return Batch.objects.create(group=group, batch_index=index, next_run_at=next_run_at, **fields)
