"""What the alert tick decides beyond health checks: schedules that miss slots, batches that
fail run after run, the daily digest; each a change alerted once and resolved once."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from monitoring.alerting import alerts_evaluate
from notifications.models import Alert
from scheduler_project.dbclock import db_now
from schedules.models import Execution
from tests.monitoring.test_health import make_batches


def _run(batch, state: str, minutes_ago: int, **fields: object) -> None:
    at = timezone.now() - timedelta(minutes=minutes_ago)
    Execution.objects.create(
        batch=batch,
        platform="google",
        scrape_type="reviews",
        trigger="scheduled",
        state=state,
        scheduled_for=at,
        created_at=at,
        finished_at=at,
        **fields,
    )


def _alerts(prefix: str) -> list[tuple[str, str]]:
    return list(
        Alert.objects.filter(key__startswith=prefix).order_by("id").values_list("kind", "status")
    )


def test_a_batch_failing_runs_in_a_row_is_critical_until_one_succeeds(db: None, settings) -> None:
    settings.SCHEDULER_ALERT_BATCH_FAILURES = 3
    (batch,) = make_batches(1)
    for minutes in (30, 20):
        _run(batch, "failed", minutes)
    alerts_evaluate()
    assert _alerts("batch-failures:") == []  # two in a row: not yet

    _run(batch, "failed", 10)
    alerts_evaluate()
    alerts_evaluate()
    assert _alerts("batch-failures:") == [("change", "critical")]
    assert "last 3 runs failed" in Alert.objects.get(key__startswith="batch-failures:").body

    _run(batch, "succeeded", 1)
    alerts_evaluate()
    alerts_evaluate()
    assert _alerts("batch-failures:") == [("change", "critical"), ("resolved", "healthy")]


def test_a_schedule_missing_slots_warns_once(db: None) -> None:
    (batch,) = make_batches(1)
    _run(batch, "succeeded", 5, missed_slots=2)
    alerts_evaluate()
    alerts_evaluate()
    assert _alerts("schedule-missed:") == [("change", "warning")]
    assert "2 slots missed" in Alert.objects.get(key__startswith="schedule-missed:").body

    Execution.objects.update(created_at=db_now() - timedelta(hours=2))  # an hour without
    alerts_evaluate()
    assert _alerts("schedule-missed:") == [("change", "warning"), ("resolved", "healthy")]


def test_the_daily_digest_is_written_once_at_its_hour(db: None, settings) -> None:
    settings.SCHEDULER_ALERT_DIGEST_HOUR_UTC = db_now().hour
    alerts_evaluate()
    alerts_evaluate()
    (digest,) = Alert.objects.filter(kind="digest")
    assert digest.title.startswith("Daily digest:") and "dispatcher_heartbeat" in digest.body

    settings.SCHEDULER_ALERT_DIGEST_HOUR_UTC = -1
    Alert.objects.all().delete()
    alerts_evaluate()
    assert not Alert.objects.filter(kind="digest").exists()
