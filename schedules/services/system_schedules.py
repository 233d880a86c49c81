"""Periodic tasks the service itself needs, kept in django-celery-beat's tables."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from retry.tasks import CLEANUP_TASK_NAME, PROCESS_TASK_NAME
from schedules.tasks import DISPATCH_TASK_NAME, EXPIRE_TASK_NAME, RECONCILE_TASK_NAME


def _system_tasks() -> list[tuple[str, str, int]]:
    """(periodic task name, task, every seconds)."""
    return [
        ("global-scheduler: dispatch tick", DISPATCH_TASK_NAME, settings.DISPATCH_TICK_SECONDS),
        ("global-scheduler: expire custom intervals", EXPIRE_TASK_NAME, 60),
        ("global-scheduler: retry queue", PROCESS_TASK_NAME, settings.SCHEDULER_RETRY_TICK_SECONDS),
        (
            "global-scheduler: reconcile runs",
            RECONCILE_TASK_NAME,
            settings.SCHEDULER_RECONCILE_TICK_SECONDS,
        ),
        ("global-scheduler: retry cleanup", CLEANUP_TASK_NAME, 3600),
    ]


@transaction.atomic
def system_periodic_tasks_ensure() -> list[PeriodicTask]:
    """Create or update the system periodic tasks; running it again changes nothing."""
    tasks = []
    for name, task, every in _system_tasks():
        interval = IntervalSchedule.objects.filter(
            every=every, period=IntervalSchedule.SECONDS
        ).first() or IntervalSchedule.objects.create(every=every, period=IntervalSchedule.SECONDS)
        periodic, _ = PeriodicTask.objects.update_or_create(
            name=name,
            defaults={"task": task, "interval": interval, "enabled": True, "crontab": None},
        )
        tasks.append(periodic)
    return tasks
