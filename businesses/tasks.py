"""Celery tasks of the catalogue: thin wrappers that call one service."""

from celery import shared_task

from businesses.services import custom_intervals_expire
from scheduler_project import task_names


@shared_task(name=task_names.EXPIRE_CUSTOM_INTERVALS, ignore_result=True)
def expire_custom_intervals() -> int:
    return custom_intervals_expire()
