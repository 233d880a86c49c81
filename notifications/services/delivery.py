"""Sending webhook deliveries: claim the due ones (SKIP LOCKED, so any number of workers
share the outbox), POST them concurrently, signed per Standard Webhooks, and record every
attempt. A failure waits by the retry schedule (about 27 h in all), then gives up; an
endpoint that has failed for SCHEDULER_WEBHOOK_DISABLE_AFTER_DAYS is switched off with an
alert."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from standardwebhooks.webhooks import Webhook

from access.services import audit_event_record
from notifications.models import Delivery, DeliveryAttempt, DeliveryState, WebhookEndpoint
from notifications.services.alerts import alert_status_record
from notifications.url_guard import url_check
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import notifications_enqueue_deliveries

USER_AGENT = "global-scheduler-webhooks/1"
SNIPPET = 300
DISABLED = "Disabled: every delivery failed for {days} days (last: {error})."


@dataclass(frozen=True)
class Outcome:
    delivery_id: int
    endpoint_id: object
    status_code: int | None
    latency_ms: int
    error: str
    snippet: str

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def sign_headers(endpoint: WebhookEndpoint, msg_id: str, body: str, now: datetime) -> dict:
    """The three Standard Webhooks headers; during a rotation both secrets sign."""
    secrets = [endpoint.secret]
    if (
        endpoint.previous_secret
        and endpoint.previous_valid_until
        and (endpoint.previous_valid_until > now)
    ):
        secrets.append(endpoint.previous_secret)
    signatures = " ".join(Webhook(s).sign(msg_id, now, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def _claim(limit: int, lease: timedelta) -> list[Delivery]:
    """The due deliveries of enabled endpoints, pushed a lease ahead: a worker that dies
    mid-send leaves them due again after it, never lost."""
    now = db_now()
    with transaction.atomic():
        ids = list(
            Delivery.objects.select_for_update(skip_locked=True)
            .filter(state=DeliveryState.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        Delivery.objects.filter(id__in=ids).update(
            next_attempt_at=now + lease, attempts=F("attempts") + 1
        )
    return list(Delivery.objects.filter(id__in=ids).select_related("endpoint"))


def _send(client: httpx.Client, delivery: Delivery, blocked: dict, now: datetime) -> Outcome:
    endpoint = delivery.endpoint
    started = time.monotonic()
    status, error, snippet = None, "", ""
    if endpoint.id in blocked:
        error = blocked[endpoint.id]
    else:
        body = json.dumps(delivery.payload, separators=(",", ":"))
        headers = sign_headers(endpoint, delivery.msg_id, body, now)
        try:
            response = client.post(endpoint.url, content=body, headers=headers)
            status, snippet = response.status_code, response.text[:SNIPPET]
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
    latency = int((time.monotonic() - started) * 1000)
    return Outcome(delivery.id, endpoint.id, status, latency, error, snippet)


def _blocked_endpoints(deliveries: list[Delivery]) -> dict:
    """Endpoints whose URL now resolves to a refused address (checked once per round)."""
    if conf.get().webhook_allow_private_urls:
        return {}
    blocked = {}
    for endpoint in {d.endpoint_id: d.endpoint for d in deliveries}.values():
        try:
            url_check(endpoint.url, allow_private=False)
        except ValidationError as exc:
            blocked[endpoint.id] = " ".join(exc.message_dict["url"])[:500]
    return blocked


def deliveries_send_due(*, limit: int | None = None) -> int:
    """One round: claim, send, record. A full round asks for another at once."""
    settings = conf.get()
    limit = limit or settings.webhook_send_chunk
    lease = timedelta(seconds=settings.webhook_timeout_seconds * 2 + 60)
    deliveries = _claim(limit, lease)
    if not deliveries:
        return 0
    blocked = _blocked_endpoints(deliveries)
    now = db_now()  # one signing timestamp per round
    with (
        httpx.Client(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client,
        ThreadPoolExecutor(min(settings.webhook_send_concurrency, len(deliveries))) as pool,
    ):
        outcomes = list(pool.map(lambda d: _send(client, d, blocked, now), deliveries))
    _record(deliveries, outcomes)
    if len(deliveries) == limit:
        notifications_enqueue_deliveries()
    return len(deliveries)


@transaction.atomic
def _record(deliveries: list[Delivery], outcomes: list[Outcome]) -> None:
    now = db_now()
    schedule = conf.get().webhook_retry_seconds
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(
            delivery_id=o.delivery_id,
            attempted_at=now,
            status_code=o.status_code,
            latency_ms=o.latency_ms,
            error=o.error,
            response_snippet=o.snippet,
        )
        for o in outcomes
    )
    # Successes in one UPDATE per status code (a bulk_update's CASE over every row and field
    # was half a worker's CPU per delivery: bench/webhook_deliveries.py); failures row by row.
    succeeded: dict[int, list[int]] = {}
    failed: list[Delivery] = []
    for delivery, outcome in zip(deliveries, outcomes, strict=True):
        if outcome.ok:
            succeeded.setdefault(outcome.status_code, []).append(delivery.id)
            continue
        delivery.last_status_code, delivery.last_error = outcome.status_code, outcome.error
        if delivery.attempts > len(schedule):
            delivery.state, delivery.next_attempt_at = DeliveryState.FAILED, None
        else:
            delivery.next_attempt_at = now + timedelta(seconds=schedule[delivery.attempts - 1])
        failed.append(delivery)
    for status_code, ids in succeeded.items():
        Delivery.objects.filter(id__in=ids).update(
            state=DeliveryState.SUCCEEDED,
            delivered_at=now,
            next_attempt_at=None,
            last_status_code=status_code,
            last_error="",
        )
    Delivery.objects.bulk_update(
        failed, ["state", "next_attempt_at", "last_status_code", "last_error"], batch_size=500
    )
    ok = {o.endpoint_id for o in outcomes if o.ok}
    failing = {o.endpoint_id for o in outcomes if not o.ok} - ok
    WebhookEndpoint.objects.filter(id__in=ok, failing_since__isnull=False).update(
        failing_since=None
    )
    WebhookEndpoint.objects.filter(id__in=failing).update(
        failing_since=Coalesce("failing_since", now)
    )
    _disable_failing(now, {o.endpoint_id: o.error for o in outcomes if not o.ok})


def _disable_failing(now: datetime, errors: dict) -> None:
    days = conf.get().webhook_disable_after_days
    stale = WebhookEndpoint.objects.select_for_update().filter(
        id__in=errors, enabled=True, failing_since__lt=now - timedelta(days=days)
    )
    for endpoint in stale:
        reason = DISABLED.format(days=days, error=errors[endpoint.id])[:300]
        endpoint.enabled, endpoint.disabled_reason = False, reason
        endpoint.save(update_fields=["enabled", "disabled_reason", "updated_at"])
        alert_status_record(
            key=f"webhook-endpoint:{endpoint.id}",
            status="critical",
            title=f"Webhook endpoint {endpoint.url} disabled",
            reason=reason,
        )


@transaction.atomic
def delivery_replay(*, delivery: Delivery, actor: str) -> Delivery:
    """Send a delivery again, with its own webhook-id and a fresh retry schedule."""
    Delivery.objects.filter(pk=delivery.pk).update(
        state=DeliveryState.PENDING, next_attempt_at=db_now(), attempts=0
    )
    audit_event_record(actor=actor, action="webhook_delivery.replay", obj=delivery)
    notifications_enqueue_deliveries()
    delivery.refresh_from_db()
    return delivery
