"""What the operators are told: each tick grades health and the schedules, and hands every
status to the alert outbox (notifications), which writes an alert only on a change. Reading
is here because the facts are (health, executions); sending is notifications'."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, connection, transaction
from django.db.models import Sum

from monitoring.health import CRITICAL, HEALTHY, WARNING, health_report
from notifications.models import AlertState
from notifications.services.alerts import alert_status_record, alert_write, dashboard_link
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution

MISSED_WINDOW = timedelta(hours=1)
FAILURE_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class Evaluated:
    checks: int
    alerts: int


def alerts_evaluate() -> Evaluated:
    """Health checks, schedules missing slots, batches failing runs in a row, the digest."""
    statuses = [*_health_statuses(), *_missed_slots(), *_failing_batches()]
    written = sum(
        alert_status_record(key=key, status=status, title=title, reason=reason) is not None
        for key, status, title, reason in statuses
    )
    written += _digest_if_due()
    return Evaluated(checks=len(statuses), alerts=written)


def _health_statuses() -> list[tuple[str, str, str, str]]:
    _, checks = health_report()
    return [
        (
            f"health:{c.name}",
            c.status,
            f"health check {c.name}",
            f"{c.reason} (value {c.value}, threshold {c.threshold})",
        )
        for c in checks
    ]


def _previously_alerted(prefix: str) -> set[str]:
    return set(
        AlertState.objects.filter(key__startswith=prefix)
        .exclude(status=HEALTHY)
        .values_list("key", flat=True)
    )


def _missed_slots() -> list[tuple[str, str, str, str]]:
    """A schedule (batch) whose runs skipped slots in the last hour warns; it resolves
    after an hour without a missed slot."""
    since = db_now() - MISSED_WINDOW
    missing = dict(
        Execution.objects.filter(created_at__gte=since, missed_slots__gt=0, batch__isnull=False)
        .values("batch_id")
        .annotate(missed=Sum("missed_slots"))
        .values_list("batch_id", "missed")
    )
    batches = {f"schedule-missed:{b}": b for b in missing}
    for key in _previously_alerted("schedule-missed:"):
        batches.setdefault(key, int(key.split(":")[1]))
    return [
        (
            key,
            WARNING if batch in missing else HEALTHY,
            f"batch {batch} misses slots",
            f"{missing.get(batch, 0)} slots missed in the last hour: "
            + dashboard_link(f"/dashboard/schedules/{batch}/"),
        )
        for key, batch in batches.items()
    ]


FAILED_IN_A_ROW_SQL = """
    SELECT batch_id FROM (
        SELECT batch_id, state,
               row_number() OVER (PARTITION BY batch_id ORDER BY finished_at DESC) AS rn
        FROM {table}
        WHERE batch_id IS NOT NULL AND finished_at >= %s
          AND state IN ('succeeded', 'failed')
    ) recent
    WHERE rn <= %s
    GROUP BY batch_id
    HAVING count(*) = %s AND bool_and(state = 'failed')
"""


def _failing_batches() -> list[tuple[str, str, str, str]]:
    """A batch whose last N finished runs all failed is critical, until one succeeds."""
    n = conf.get().alert_batch_failures
    since = db_now() - FAILURE_WINDOW
    if connection.vendor != "postgresql":
        return []
    with connection.cursor() as cursor:
        cursor.execute(FAILED_IN_A_ROW_SQL.format(table=Execution._meta.db_table), [since, n, n])
        failing = {row[0] for row in cursor.fetchall()}
    batches = {f"batch-failures:{b}": b for b in failing}
    for key in _previously_alerted("batch-failures:"):
        batches.setdefault(key, int(key.split(":")[1]))
    return [
        (
            key,
            CRITICAL if batch in failing else HEALTHY,
            f"batch {batch} fails its runs",
            (f"Its last {n} runs failed: " if batch in failing else "A run succeeded again: ")
            + dashboard_link(f"/dashboard/schedules/{batch}/"),
        )
        for key, batch in batches.items()
    ]


def _digest_if_due() -> int:
    """Once a day at SCHEDULER_ALERT_DIGEST_HOUR_UTC: the health of every check."""
    hour = conf.get().alert_digest_hour_utc
    now = db_now()
    if hour < 0 or now.hour != hour:
        return 0
    key = f"digest:{now:%Y-%m-%d}"
    try:
        with transaction.atomic():
            AlertState.objects.create(key=key, status="sent", changed_at=now)
    except IntegrityError:
        return 0  # another worker (or an earlier tick) wrote today's
    status, checks = health_report()
    lines = [f"{c.name}: {c.status} ({c.reason})" for c in checks]
    batches = Batch.objects.serving().count()
    body = "\n".join(
        [f"Overall {status}; {batches} serving batches.", *lines, f"Dashboard: {dashboard_link()}"]
    )
    alert_write(key=key, kind="digest", status=status, title=f"Daily digest: {status}", body=body)
    return 1
