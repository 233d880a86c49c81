"""Ingest: the step that finishes a running execution from its Apify run.

Re-fetch the run (a callback is only a hint), page through its dataset, attribute each item
to a business of THAT execution's snapshot (attribution.py), store the review items, record
each business's outcome and hand the failed ones to the retry queue, all in one transaction.
`execution_ingest` is THE path: the callback processor and the reconcile poller both call
it, so a lost, duplicated or late callback all end the same way, exactly once (the
execution row lock and its `running` state decide who writes).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from django.db import transaction
from django.db.models import Case, Exists, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce

from businesses.models import Business, ScrapeOutcome, ScrapeStatus
from businesses.platforms import ScrapeType
from notifications.models import EventType
from notifications.services.events import Event, events_publish
from retry.services import retry_entries_record
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.observations import INGEST_DURATION, RUN_DURATION, observe
from schedules import apify
from schedules.models import Execution
from schedules.services.capacity import execution_release_capacity
from schedules.services.execution_start import executions_admit_and_launch
from schedules.services.executions import execution_transition
from schedules.services.ingest_items import StoredItems, run_items_store
from schedules.states import ExecutionState
from webhooks.models import WebhookEvent, WebhookStatus
from webhooks.services import webhook_event_mark

logger = logging.getLogger(__name__)

RUN_NOT_FOUND = "Apify does not know run {run_id}."
RUN_ENDED = "The Apify run ended {status}{message}."
NO_OVERVIEW_ITEM = "The run returned no overview item for this business."


def webhook_event_ingest(*, event_id: int) -> str:
    """Find the execution of a stored callback and ingest its run. Returns the new status."""
    event = WebhookEvent.objects.get(id=event_id)
    execution = Execution.objects.filter(apify_run_id=event.run_id).only("id").first()
    status, error = WebhookStatus.PROCESSED, ""
    if execution is None:
        status = WebhookStatus.UNKNOWN_RUN
    else:
        try:
            execution_ingest(execution_id=execution.id)
        except Exception as exc:
            # Reconciliation finishes the execution later; the event says what went wrong.
            logger.exception("ingest of run %s failed", event.run_id, extra={"action": "ingest"})
            status, error = WebhookStatus.FAILED, f"{type(exc).__name__}: {exc}"[:2000]
    webhook_event_mark(event_id=event_id, status=status, error=error, execution=execution)
    return status


@dataclass(frozen=True)
class IngestResult:
    state: str
    items: int
    attributed: int
    unmatched: int
    failed: int


def execution_ingest(
    *, execution_id: UUID, give_up_unreadable: bool = False
) -> IngestResult | None:
    """Finish a running execution from what Apify says of its run (the webhook payload is
    only a hint). Returns None when there is nothing to do: not running any more (already
    ingested, cancelled) or the run has not ended yet. A dataset that cannot be read whole
    raises `DatasetUnreadable` (tried again later), unless `give_up_unreadable`: then the
    execution fails with that reason, its businesses go to the retry queue."""
    execution = Execution.objects.only("state", "apify_run_id", "platform").get(id=execution_id)
    if execution.state != ExecutionState.RUNNING or not execution.apify_run_id:
        return None
    run = apify.actor_run_get(execution.apify_run_id)
    if run is not None and not run.is_terminal:
        return None
    _hand_over_capacity(execution_id)
    began = time.monotonic()
    spool, read_error = None, None
    try:
        # Download outside any lock: a concurrent ingest may download too, only one writes.
        if run is not None and run.status == "SUCCEEDED" and run.dataset_id:
            spool = apify.dataset_items(run.dataset_id)
    except apify.DatasetUnreadable as exc:
        if not give_up_unreadable:
            raise
        read_error = str(exc)
    try:
        pages = spool.pages() if spool is not None else iter(())
        result = _record(execution_id, execution.apify_run_id, run, pages, read_error)
    finally:
        if spool is not None:
            spool.close()
    if result is not None:
        observe(INGEST_DURATION, time.monotonic() - began, platform=execution.platform)
    return result


def _hand_over_capacity(execution_id: UUID) -> None:
    """The run ended, so its account capacity is free: start what waits for it here, before
    the download, instead of one task hop after the whole ingest."""
    if not execution_release_capacity(execution_id=execution_id):
        return
    try:
        executions_admit_and_launch(limit=conf.get().start_message_size)
    except Exception:
        # The ingest must not fail for a start; the tick's admission round takes it over.
        logger.exception("admission after run end failed", extra={"action": "admit"})


def _run_failure(run_id: str, run: apify.RunState | None) -> str | None:
    if run is None:
        return RUN_NOT_FOUND.format(run_id=run_id)
    if run.status != "SUCCEEDED":
        message = f": {run.status_message}" if run.status_message else ""
        return RUN_ENDED.format(status=run.status, message=message)
    return None


def _items(
    execution: Execution, run_error: str | None, pages: Iterable[list], alive: set[int]
) -> tuple[StoredItems, dict[int, str]]:
    """The run's items stored, and each failed business with its reason (a failed run fails
    them all; an overview run fails a business it returned nothing for)."""
    snapshot_ids = [entry["business_id"] for entry in execution.business_snapshot]
    if run_error:
        return StoredItems(), {business_id: run_error for business_id in snapshot_ids}
    stored = run_items_store(execution=execution, pages=pages, alive=alive)
    failed = dict(stored.errors)
    if execution.scrape_type == ScrapeType.OVERVIEW:
        for business_id in snapshot_ids:
            if business_id not in stored.with_items:
                failed.setdefault(business_id, NO_OVERVIEW_ITEM)
    return stored, failed


@transaction.atomic
def _record(
    execution_id: UUID,
    run_id: str,
    run: apify.RunState | None,
    pages: Iterable[list],
    read_error: str | None = None,
) -> IngestResult | None:
    execution = Execution.objects.select_for_update().get(id=execution_id)
    if execution.state != ExecutionState.RUNNING:
        return None  # another ingest finished it while we downloaded
    now = db_now()
    snapshot_ids = [entry["business_id"] for entry in execution.business_snapshot]
    # A business deleted since the snapshot gets nothing: no items, no outcome, no retry.
    alive = set(Business.objects.filter(id__in=snapshot_ids).values_list("id", flat=True))
    run_error = _run_failure(run_id, run) or read_error
    stored, failed = _items(execution, run_error, pages, alive)
    failed = {b: e for b, e in failed.items() if b in alive}
    succeeded = [b for b in snapshot_ids if b in alive and b not in failed]
    _record_business_outcomes(now, execution, succeeded, failed)
    events_publish(_scraped_events(execution, now, set(succeeded), stored.new_items))

    state = ExecutionState.FAILED if run_error else ExecutionState.SUCCEEDED
    started = execution.started_at or execution.created_at
    observe(RUN_DURATION, (now - started).total_seconds(), platform=execution.platform)
    execution_transition(
        execution_id=execution.id,
        to=state,
        only_from=[ExecutionState.RUNNING],
        finished_at=now,
        duration_ms=max(0, int((now - started).total_seconds() * 1000)),
        items_count=stored.items,
        attributed_count=stored.attributed,
        unmatched_count=stored.unmatched,
        failed_count=len(failed),
        usage_usd=Decimal(str(run.usage_usd)) if run and run.usage_usd is not None else None,
        compute_units=run.compute_units if run else None,
        error=run_error or "",
        apify_dataset_id=run.dataset_id if run else execution.apify_dataset_id,
    )
    retry_entries_record(execution=execution, succeeded=succeeded, failed=failed)
    logger.info(
        "ingested run %s: %d items, %d attributed, %d unmatched, %d businesses failed",
        run_id,
        stored.items,
        stored.attributed,
        stored.unmatched,
        len(failed),
        extra={"action": "ingest"},
    )
    return IngestResult(state, stored.items, stored.attributed, stored.unmatched, len(failed))


def _scraped_events(
    execution: Execution, now: datetime, succeeded: set[int], new_items: dict[int, int]
) -> list[Event]:
    """`business.scraped` for each business of the run that succeeded (the product's cue
    to read its new reviews)."""
    return [
        Event(
            event_type=EventType.BUSINESS_SCRAPED,
            team_id=entry["team_id"],
            data={
                "business_id": entry["business_id"],
                "team_id": entry["team_id"],
                "platform": execution.platform,
                "scrape_type": execution.scrape_type,
                "new_item_count": new_items.get(entry["business_id"], 0),
                "execution_id": str(execution.id),
                "scraped_at": now.isoformat().replace("+00:00", "Z"),
            },
        )
        for entry in execution.business_snapshot
        if entry["business_id"] in succeeded
    ]


def _record_business_outcomes(
    now: datetime, execution: Execution, succeeded: list[int], failed: dict[int, str]
) -> None:
    """One outcome row per (business, this scrape type); then the business's own status
    becomes the worst of its types (failed if any type's last scrape failed), its error the
    failing type's. A deleted business's rows are gone with it (the caller filtered them)."""
    rows = [(b, ScrapeStatus.SUCCEEDED, "") for b in succeeded]
    rows += [(b, ScrapeStatus.FAILED, error) for b, error in failed.items()]
    if not rows:
        return
    ScrapeOutcome.objects.bulk_create(
        [
            ScrapeOutcome(
                business_id=business_id,
                scrape_type=execution.scrape_type,
                last_scraped_at=now,
                last_status=status,
                last_error=error,
                last_execution_id=execution.id,
            )
            for business_id, status, error in sorted(rows)
        ],
        update_conflicts=True,
        unique_fields=["business", "scrape_type"],
        update_fields=["last_scraped_at", "last_status", "last_error", "last_execution_id"],
    )
    failing = ScrapeOutcome.objects.filter(
        business_id=OuterRef("pk"), last_status=ScrapeStatus.FAILED
    ).order_by("-last_scraped_at")
    Business.objects.filter(id__in=[row[0] for row in rows]).update(
        last_scraped_at=now,
        last_status=Case(
            When(Exists(failing), then=Value(ScrapeStatus.FAILED)),
            default=Value(ScrapeStatus.SUCCEEDED),
        ),
        last_error=Coalesce(Subquery(failing.values("last_error")[:1]), Value("")),
        updated_at=now,
    )
