"""The outbox of product events: a delivery row per (event, subscribed endpoint), written in
the transaction of what caused it (an ingest, a retry given up), so an event is never sent
for something rolled back nor lost when the process dies after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from notifications.models import Delivery, EventType, WebhookEndpoint
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import notifications_enqueue_deliveries


@dataclass(frozen=True)
class Event:
    event_type: str
    team_id: str
    data: dict


def new_msg_id() -> str:
    """The `webhook-id`: the same for every attempt and replay of one delivery."""
    return f"msg_{uuid.uuid4().hex}"


def _envelope(event_type: str, now: str, data: dict) -> dict:
    """Standard Webhooks' payload shape: type, timestamp, data."""
    return {"type": event_type, "timestamp": now, "data": data}


def events_publish(events: list[Event]) -> int:
    """Write the deliveries of `events` for every enabled endpoint subscribed to them (a
    team-bound endpoint only for its team's). Returns how many; sending follows the commit."""
    if not events:
        return 0
    endpoints = list(
        WebhookEndpoint.objects.filter(enabled=True).values_list("id", "events", "team_id")
    )
    if not endpoints:
        return 0
    now = db_now()
    stamp = now.isoformat().replace("+00:00", "Z")
    rows = [
        Delivery(
            endpoint_id=endpoint_id,
            msg_id=new_msg_id(),
            event_type=event.event_type,
            team_id=event.team_id,
            payload=_envelope(event.event_type, stamp, event.data),
            next_attempt_at=now,
            created_at=now,
        )
        for event in events
        for endpoint_id, subscribed, team_id in endpoints
        if event.event_type in subscribed and team_id in (None, event.team_id)
    ]
    Delivery.objects.bulk_create(rows, batch_size=2000)
    if rows:
        notifications_enqueue_deliveries()
    return len(rows)


def endpoint_send_test(*, endpoint: WebhookEndpoint) -> Delivery:
    """A `webhook.test` event to this endpoint alone, whatever it subscribes to."""
    now = db_now()
    delivery = Delivery.objects.create(
        endpoint=endpoint,
        msg_id=new_msg_id(),
        event_type=EventType.TEST,
        team_id=endpoint.team_id or "",
        payload=_envelope(
            EventType.TEST,
            now.isoformat().replace("+00:00", "Z"),
            {"endpoint_id": str(endpoint.id)},
        ),
        next_attempt_at=now,
        created_at=now,
    )
    notifications_enqueue_deliveries()
    return delivery
