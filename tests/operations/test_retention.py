"""Retention: old executions (keeping the latest M per batch, never active ones), their
unmatched items, webhook dedupe records (at least 3 days) and closed retry entries."""

from __future__ import annotations

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from businesses.models import Business, ReviewItem, Team
from retry.models import RetryEntry
from schedules.models import Batch, Execution, UnmatchedItem
from schedules.services.retention import RetentionPolicy, history_prune, history_prune_preview
from schedules.tasks import prune_history
from tests.monitoring.test_health import make_batches, make_retries, make_webhook_events
from webhooks.models import WebhookEvent

_slot = itertools.count(1)


@pytest.fixture(autouse=True)
def policy(settings) -> None:
    settings.SCHEDULER_RETENTION_EXECUTIONS_DAYS = 30
    settings.SCHEDULER_RETENTION_KEEP_PER_BATCH = 3
    settings.SCHEDULER_RETENTION_WEBHOOK_DAYS = 7
    settings.SCHEDULER_RETENTION_CHUNK = 2  # several chunks even for a few rows


def execution(
    batch: Batch | None, *, days_old: float, state: str = "succeeded", **fields: object
) -> Execution:
    """An execution created `days_old` ago; later calls get later slots in their batch."""
    created = timezone.now() - timedelta(days=days_old)
    row = Execution.objects.create(
        batch=batch,
        platform="google",
        scrape_type="reviews",
        trigger="scheduled" if batch else "retry",
        state=state,
        scheduled_for=created + timedelta(seconds=next(_slot)),
        **fields,
    )
    Execution.objects.filter(id=row.id).update(created_at=created)
    return row


def alive(*rows: Execution) -> list[bool]:
    ids = set(Execution.objects.values_list("id", flat=True))
    return [row.id in ids for row in rows]


def test_keeps_the_latest_per_batch_and_deletes_older_ones(db: None) -> None:
    busy, mixed, quiet = make_batches(3)
    # busy: 6 old executions, oldest first; the last 3 are its latest and stay.
    busy_rows = [execution(busy, days_old=40 - i) for i in range(6)]
    # mixed: 2 old, then 4 recent: the old ones are not among the latest 3.
    mixed_old = [execution(mixed, days_old=50 - i) for i in range(2)]
    mixed_new = [execution(mixed, days_old=1) for _ in range(4)]
    # quiet: only 2 executions, both old: they are its latest, they stay.
    quiet_rows = [execution(quiet, days_old=90) for _ in range(2)]

    result = history_prune()

    assert alive(*busy_rows) == [False, False, False, True, True, True]
    assert alive(*mixed_old) == [False, False]
    assert all(alive(*mixed_new)) and all(alive(*quiet_rows))
    assert result.executions == 5
    assert history_prune().executions == 0  # nothing left to do


def test_never_deletes_active_executions_or_runs_still_to_abort(db: None) -> None:
    (batch,) = make_batches(1)
    pending = execution(batch, days_old=60, state="pending")
    starting = execution(batch, days_old=59, state="starting")
    running = execution(batch, days_old=58, state="running")
    to_abort = execution(batch, days_old=57, state="cancelled", run_abort_pending=True)
    old = execution(batch, days_old=56, state="failed")
    for _ in range(3):
        execution(batch, days_old=2)  # the latest 3
    orphan_running = execution(None, days_old=60, state="running")

    assert history_prune().executions == 1
    assert alive(pending, starting, running, to_abort, orphan_running) == [True] * 5
    assert alive(old) == [False]


def test_retry_executions_without_a_batch_go_by_age(db: None) -> None:
    old = [execution(None, days_old=31) for _ in range(5)]
    recent = execution(None, days_old=29)
    assert history_prune().executions == 5
    assert alive(*old) == [False] * 5 and alive(recent) == [True]


def test_what_points_at_a_deleted_execution(db: None) -> None:
    team = Team.objects.create(team_id="retention-team")
    business = Business.objects.create(
        team=team, platform="google", external_id="r1", platform_key="r1"
    )
    gone = execution(None, days_old=45)
    kept = execution(None, days_old=1)
    for row in (gone, kept):
        UnmatchedItem.objects.create(execution=row, reason="no_key", payload={})
    review = ReviewItem.objects.create(
        business=business, execution=gone, platform_item_id="rev1", payload={}
    )
    entry = RetryEntry.objects.create(
        business=business, scrape_type="reviews", state="pending", last_execution=gone
    )
    (event,) = make_webhook_events(1, "processed", execution=gone)

    result = history_prune()

    assert (result.executions, result.unmatched_items) == (1, 1)
    assert list(UnmatchedItem.objects.values_list("execution_id", flat=True)) == [kept.id]
    review.refresh_from_db()
    entry.refresh_from_db()
    event.refresh_from_db()
    # SET_NULL relations stay, unlinked: the reviews are the product's data.
    assert (review.execution_id, entry.last_execution_id, event.execution_id) == (None,) * 3


def _webhooks_aged(days: float, status: str = "processed") -> WebhookEvent:
    (event,) = make_webhook_events(1, status)
    WebhookEvent.objects.filter(id=event.id).update(
        received_at=timezone.now() - timedelta(days=days)
    )
    return event


def test_webhook_events_go_after_the_window(db: None) -> None:
    young, old = _webhooks_aged(6), _webhooks_aged(8)
    failed_old = _webhooks_aged(9, "failed")
    waiting = _webhooks_aged(20, "received")  # still to process: kept
    assert history_prune().webhook_events == 2
    remaining = set(WebhookEvent.objects.values_list("id", flat=True))
    assert remaining == {young.id, waiting.id}
    assert old.id not in remaining and failed_old.id not in remaining


@pytest.mark.parametrize("setting", [0, 1, 2, -5])
def test_the_webhook_window_is_never_under_3_days(db: None, settings, setting: int) -> None:
    settings.SCHEDULER_RETENTION_WEBHOOK_DAYS = setting
    assert RetentionPolicy.from_settings().webhook_days == 3
    kept = [_webhooks_aged(0.5), _webhooks_aged(2.9)]
    gone = _webhooks_aged(3.1)
    assert history_prune().webhook_events == 1
    assert set(WebhookEvent.objects.values_list("id", flat=True)) == {e.id for e in kept}
    assert not WebhookEvent.objects.filter(id=gone.id).exists()


def test_closed_retry_entries_are_pruned(db: None, settings) -> None:
    settings.SCHEDULER_RETRY_RETENTION_DAYS = 14
    old_closed = make_retries(2, "succeeded") + make_retries(1, "dead")
    old_open = make_retries(1, "pending")
    recent_closed = make_retries(1, "dead")
    RetryEntry.objects.filter(id__in=[e.id for e in old_closed + old_open]).update(
        updated_at=timezone.now() - timedelta(days=20)
    )
    assert history_prune().retry_entries == 3
    remaining = set(RetryEntry.objects.values_list("id", flat=True))
    assert remaining == {old_open[0].id, recent_closed[0].id}


def _everything_old() -> None:
    (batch,) = make_batches(1)
    rows = [execution(batch, days_old=60 - i) for i in range(5)]
    UnmatchedItem.objects.create(execution=rows[0], reason="no_key", payload={})
    _webhooks_aged(10)
    (entry,) = make_retries(1, "dead")
    RetryEntry.objects.filter(id=entry.id).update(updated_at=timezone.now() - timedelta(days=30))


def test_preview_counts_exactly_what_prune_deletes(db: None) -> None:
    _everything_old()
    preview = history_prune_preview()
    assert preview.as_dict() == {
        "executions": 2,
        "unmatched_items": 1,
        "webhook_events": 1,
        "retry_entries": 1,
    }
    assert history_prune() == preview


def test_prune_history_dry_run_deletes_nothing_then_the_real_run_does(db: None) -> None:
    _everything_old()
    counts = (Execution.objects.count(), WebhookEvent.objects.count(), RetryEntry.objects.count())
    out = StringIO()
    call_command("prune_history", "--dry-run", stdout=out)
    text = out.getvalue()
    assert "would delete 2 executions" in text and "would delete 1 unmatched items" in text
    assert "would delete 1 webhook events" in text and "would delete 1 retry entries" in text
    assert "Dry run, nothing deleted." in text
    assert "keeping the latest 3 per batch" in text
    after = (Execution.objects.count(), WebhookEvent.objects.count(), RetryEntry.objects.count())
    assert after == counts

    out = StringIO()
    call_command("prune_history", stdout=out)
    assert "deleted 2 executions" in out.getvalue()
    assert Execution.objects.count() == counts[0] - 2


def test_the_celery_task_prunes_and_returns_counts(db: None) -> None:
    _everything_old()
    assert prune_history() == {
        "executions": 2,
        "unmatched_items": 1,
        "webhook_events": 1,
        "retry_entries": 1,
    }
