"""The callback inbox: store each Apify callback once, enqueue its processing, record the
outcome. What a callback means for its run is ingest's business (schedules)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import callback_enqueue_processing
from scheduler_project.jsonb import jsonb_safe
from webhooks.models import WebhookEvent, WebhookStatus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    event_id: int
    duplicate: bool


def webhook_event_receive(
    *, run_id: str, event_type: str, payload: dict, dispatch_id: str = ""
) -> Delivery:
    """Store a callback once per (run id, event type); the UNIQUE constraint decides.

    Processing is enqueued after commit; a duplicate only bumps a counter.
    """
    payload = jsonb_safe(payload)
    if connection.vendor == "postgresql":
        event_id, inserted = _upsert_event(run_id, event_type, payload, dispatch_id)
    else:
        event_id, inserted = _create_or_count_event(run_id, event_type, payload, dispatch_id)
    if inserted:
        callback_enqueue_processing(event_id)
    return Delivery(event_id=event_id, duplicate=not inserted)


def _upsert_event(
    run_id: str, event_type: str, payload: object, dispatch_id: str
) -> tuple[int, bool]:
    """ONE statement for both cases, so the endpoint stays fast under Apify's retries:
    `xmax = 0` tells a fresh insert from a conflict that bumped the counter."""
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (run_id, event_type, dispatch_id, payload, status, duplicates,
                                 error, received_at)
            VALUES (%s, %s, %s, %s::jsonb, %s, 0, '', statement_timestamp())
            ON CONFLICT (run_id, event_type) DO UPDATE SET duplicates = {table}.duplicates + 1
            RETURNING id, (xmax = 0)
            """,
            [run_id, event_type, dispatch_id, json.dumps(payload), WebhookStatus.RECEIVED],
        )
        event_id, inserted = cursor.fetchone()
    return event_id, inserted


def _create_or_count_event(
    run_id: str, event_type: str, payload: object, dispatch_id: str
) -> tuple[int, bool]:
    """The same on the embedded SQLite default, in two steps."""
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                run_id=run_id, event_type=event_type, payload=payload, dispatch_id=dispatch_id
            )
            return event.id, True
    except IntegrityError:
        events = WebhookEvent.objects.filter(run_id=run_id, event_type=event_type)
        events.update(duplicates=F("duplicates") + 1)
        return events.values_list("id", flat=True).get(), False


def webhook_event_mark(
    *, event_id: int, status: str, error: str = "", execution: object | None = None
) -> None:
    """Record how processing a stored callback ended (and which execution it was for)."""
    WebhookEvent.objects.filter(id=event_id).update(
        status=status, error=error, processed_at=db_now(), execution=execution
    )
