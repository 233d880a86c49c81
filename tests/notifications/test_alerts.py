"""Operator alerts through Apprise (its json:// channel) to a real local receiver: one alert
per status change and one when it resolves, never a repeat, a failing channel retried and
shown without its secret, and `send_test_alert`'s exit status."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from monitoring.alerting import alerts_evaluate
from notifications.models import Alert, AlertChannelState
from notifications.services.alerts import alert_status_record, alerts_send_due
from scheduler_project.dbclock import db_now
from tests.concurrency import run_concurrently
from tests.notifications.receiver import Receiver

KEY = "health:pending_retries"


def _channel(receiver: Receiver) -> str:
    return f"json://ops:topsecret@127.0.0.1:{receiver.port}/alerts"


def _titles(receiver: Receiver) -> list[str]:
    return [r.json["title"] for r in receiver.requests]


def test_one_alert_per_change_and_one_when_it_resolves(
    receiver: Receiver, settings, db: None
) -> None:
    settings.ALERT_URLS = _channel(receiver)
    settings.SCHEDULER_HEALTH_PENDING_RETRIES_WARNING = -1  # 0 pending retries now warns
    for _ in range(3):
        alerts_evaluate()
        alerts_send_due()
    mine = [t for t in _titles(receiver) if "pending_retries" in t]
    assert mine == ["[WARNING] health check pending_retries"]

    settings.SCHEDULER_HEALTH_PENDING_RETRIES_WARNING = 10
    for _ in range(3):
        alerts_evaluate()
        alerts_send_due()
    mine = [t for t in _titles(receiver) if "pending_retries" in t]
    assert mine == [
        "[WARNING] health check pending_retries",
        "Resolved: health check pending_retries",
    ]
    warning = next(r.json for r in receiver.requests if "WARNING" in r.json["title"])
    assert "retry entries pending" in warning["message"] and "/dashboard/" in warning["message"]
    assert warning["type"] == "warning"


@pytest.mark.django_db(transaction=True)
def test_racing_workers_write_a_change_once() -> None:
    written = run_concurrently(
        lambda i: alert_status_record(key=KEY, status="critical", title="t", reason="r"), 8
    )
    assert sum(alert is not None for alert in written) == 1
    assert Alert.objects.filter(key=KEY).count() == 1


def test_a_failing_channel_is_retried_alone_and_shown_without_its_secret(
    receiver: Receiver, settings, db: None
) -> None:
    failing = "json://ops:hunter2@127.0.0.1:1/alerts"  # nothing listens there
    settings.ALERT_URLS = f"{_channel(receiver)},{failing}"
    settings.SCHEDULER_ALERT_RETRY_SECONDS = (1,)
    alert_status_record(key=KEY, status="warning", title="retries pile up", reason="r")

    assert alerts_send_due() == 1
    alert = Alert.objects.get()
    assert alert.state == AlertChannelState.PENDING and alert.attempts == 1
    results = {name: result["ok"] for name, result in alert.channels.items()}
    assert sorted(results.values()) == [False, True]
    assert "hunter2" not in str(alert.channels) and "topsecret" not in str(alert.channels)
    assert len(receiver.requests) == 1

    Alert.objects.update(next_attempt_at=db_now())
    alerts_send_due()  # only the failing channel is tried again: the receiver hears nothing
    alert.refresh_from_db()
    assert alert.state == AlertChannelState.FAILED and alert.attempts == 2
    assert len(receiver.requests) == 1
    failed = next(r for r in alert.channels.values() if not r["ok"])
    assert failed["error"]


def test_send_test_alert_says_what_each_channel_answered(
    receiver: Receiver, settings, db: None, capsys
) -> None:
    settings.ALERT_URLS = _channel(receiver)
    call_command("send_test_alert")
    assert _titles(receiver) == ["Global Scheduler test alert"]
    assert "sent" in capsys.readouterr().out

    settings.ALERT_URLS = "json://127.0.0.1:1/alerts"
    with pytest.raises(CommandError, match="1 of 1 channels failed"):
        call_command("send_test_alert")
    assert Alert.objects.filter(kind="test", state=AlertChannelState.FAILED).count() == 1
