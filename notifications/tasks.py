"""Thin tasks: send what the outboxes hold."""

from celery import shared_task

from notifications.services.alerts import alerts_send_due
from notifications.services.delivery import deliveries_send_due
from scheduler_project import task_names


@shared_task(name=task_names.SEND_DELIVERIES, ignore_result=True)
def send_deliveries() -> int:
    return deliveries_send_due()


@shared_task(name=task_names.SEND_ALERTS, ignore_result=True)
def send_alerts() -> int:
    return alerts_send_due()
