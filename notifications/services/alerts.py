"""Operator alerts: write one when a check's status changes (under its state row's lock, so
many workers write it once) and send it to every ALERT_URLS channel through Apprise,
retrying a failing channel with backoff. URLs carry secrets: only their redacted form
(Apprise's privacy mode) is stored, shown or logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import apprise
from django.db import transaction
from django.db.models import F

from notifications.models import Alert, AlertChannelState, AlertState
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from scheduler_project.enqueue import notifications_enqueue_alerts

logger = logging.getLogger(__name__)

HEALTHY = "healthy"
NOTIFY_TYPES = {
    "healthy": apprise.NotifyType.SUCCESS,
    "warning": apprise.NotifyType.WARNING,
    "critical": apprise.NotifyType.FAILURE,
}
BAD_URL = "Apprise does not understand this URL."


def alert_urls() -> list[str]:
    return [u.strip() for u in conf.get().alert_urls.split(",") if u.strip()]


def redacted(url: str) -> str:
    """The URL with its password and tokens masked, as Apprise prints it."""
    plugin = apprise.Apprise.instantiate(url)
    if not plugin:
        return url.split("://", 1)[0] + "://****"
    return plugin.url(privacy=True).split("?", 1)[0]


def dashboard_link(path: str = "/dashboard/") -> str:
    return conf.get().public_url.rstrip("/") + path


@transaction.atomic
def alert_status_record(
    *, key: str, status: str, title: str, reason: str, details: str = ""
) -> Alert | None:
    """Record the status of `key` (a health check, a schedule, an endpoint); on a change,
    write the alert: `change` for a worse or different status, `resolved` back to healthy.
    A key seen first as healthy alerts nothing. Returns the alert written, if any."""
    now = db_now()
    AlertState.objects.bulk_create(
        [AlertState(key=key, status=HEALTHY, changed_at=now)], ignore_conflicts=True
    )
    state = AlertState.objects.select_for_update().get(key=key)
    if state.status == status:
        return None
    previous = state.status
    state.status, state.reason, state.changed_at = status, reason, now
    state.save()
    kind = "resolved" if status == HEALTHY else "change"
    body = "\n".join(
        filter(
            None,
            [reason, details, f"Was {previous}, now {status}.", f"Dashboard: {dashboard_link()}"],
        )
    )
    heading = f"Resolved: {title}" if kind == "resolved" else f"[{status.upper()}] {title}"
    return alert_write(key=key, kind=kind, status=status, title=heading, body=body)


def alert_write(
    *, key: str, kind: str, status: str, title: str, body: str, send_later: bool = True
) -> Alert:
    """An alert in the outbox, sent after the commit (or by the caller, `send_later=False`)."""
    now = db_now()
    alert = Alert.objects.create(
        key=key,
        kind=kind,
        status=status,
        title=title[:250],
        body=body,
        created_at=now,
        next_attempt_at=now if send_later else None,
    )
    if send_later:
        notifications_enqueue_alerts()
    return alert


def _notify(url: str, alert: Alert) -> str:
    """Send to one channel; '' on success, else what Apprise said."""
    sender = apprise.Apprise()
    if not sender.add(url):
        return BAD_URL
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(
            body=alert.body,
            title=alert.title,
            notify_type=NOTIFY_TYPES.get(alert.status, apprise.NotifyType.INFO),
        )
    if ok:
        return ""
    said = captured.getvalue().strip().splitlines()
    return (said[-1].split(" - ", 2)[-1] if said else "The channel refused it.")[:300]


def alert_send(alert: Alert) -> dict[str, dict]:
    """Send to each channel that has not taken it yet; returns every channel's result."""
    channels = dict(alert.channels)
    now = db_now().isoformat()
    for url in alert_urls():
        name = redacted(url)
        if channels.get(name, {}).get("ok"):
            continue
        error = _notify(url, alert)
        if error:
            logger.warning(
                "alert %s to %s failed: %s", alert.id, name, error, extra={"action": "alert"}
            )
        channels[name] = {"ok": not error, "error": error, "at": now}
    return channels


def alerts_send_due(*, limit: int = 50) -> int:
    """Claim the due alerts (SKIP LOCKED), send them, and record what each channel said."""
    now = db_now()
    schedule = conf.get().alert_retry_seconds
    with transaction.atomic():
        ids = list(
            Alert.objects.select_for_update(skip_locked=True)
            .filter(state=AlertChannelState.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("id", flat=True)[:limit]
        )
        Alert.objects.filter(id__in=ids).update(
            next_attempt_at=now + timedelta(minutes=5), attempts=F("attempts") + 1
        )
    for alert in Alert.objects.filter(id__in=ids).order_by("id"):
        channels = alert_send(alert)
        sent = all(c["ok"] for c in channels.values())
        alert.channels = channels
        if sent:
            alert.state, alert.sent_at, alert.next_attempt_at = (
                AlertChannelState.SENT,
                db_now(),
                None,
            )
        elif alert.attempts > len(schedule):
            alert.state, alert.next_attempt_at = AlertChannelState.FAILED, None
        else:
            alert.next_attempt_at = db_now() + timedelta(seconds=schedule[alert.attempts - 1])
        alert.save(update_fields=["channels", "state", "sent_at", "next_attempt_at"])
    return len(ids)
