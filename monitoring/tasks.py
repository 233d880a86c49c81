"""Thin tasks of monitoring."""

from celery import shared_task

from monitoring.alerting import alerts_evaluate
from scheduler_project import task_names


@shared_task(name=task_names.EVALUATE_ALERTS, ignore_result=True)
def evaluate_alerts() -> dict:
    result = alerts_evaluate()
    return {"checks": result.checks, "alerts": result.alerts}
