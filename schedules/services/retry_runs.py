"""Retry runs: due entries of the retry queue become single-business executions.

The queue (retry/) decides who is due and when; starting their runs is this side's job,
through the same builder and start path as every other execution.
"""

from __future__ import annotations

import logging
from uuid import UUID

from django.db import transaction
from django.db.models import Q

from retry.services import retry_entries_claim_due, retry_entries_mark_started
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import executions_enqueue_start
from schedules.models import Execution, Mapping, Trigger
from schedules.services.dispatch_switch import dispatch_is_paused
from schedules.services.executions import SnapshotEntry, execution_build

logger = logging.getLogger(__name__)


@transaction.atomic
def retry_runs_start_due(*, limit: int = 200) -> list[UUID]:
    """Start a single-business run for each due retry entry; returns the executions' ids.

    The entries are claimed with SKIP LOCKED, so several processors never start the same
    retry twice. While the kill switch is on, due entries wait.
    """
    if dispatch_is_paused():
        return []
    due = retry_entries_claim_due(limit=limit)
    if not due:
        return []
    now = db_now()
    batches = {
        (business_id, scrape_type): batch_id
        for business_id, scrape_type, batch_id in Mapping.objects.filter(
            Q(
                *[Q(business_id=e.business_id, scrape_type=e.scrape_type) for e in due],
                _connector=Q.OR,
            )
        ).values_list("business_id", "scrape_type", "batch_id")
    }
    started: dict[int, Execution] = {}
    for entry in due:
        business = entry.business
        if not business.active:
            continue
        started[entry.id] = execution_build(
            trigger=Trigger.RETRY,
            now=now,
            # The batch serving this business for this scrape type: its history shows it.
            batch_id=batches.get((business.id, entry.scrape_type), entry.batch_id),
            platform=business.platform,
            scrape_type=entry.scrape_type,
            snapshot=[
                SnapshotEntry(
                    business_id=business.id,
                    team_id=business.team_id,
                    external_id=business.external_id,
                    key=business.platform_key,
                )
            ],
        )
    Execution.objects.bulk_create(started.values())
    retry_entries_mark_started(entries=due, executions=started, now=now)
    to_start = [execution.id for execution in started.values()]
    executions_enqueue_start(to_start)
    logger.info("started %d retries", len(to_start), extra={"action": "retry"})
    return to_start
