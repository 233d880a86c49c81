"""Celery tasks of the retry queue: thin wrappers that call one service. (Starting the
runs of due retries is schedules' task: a retry is a run.)"""

from celery import shared_task

from retry.services import retry_entries_cleanup
from scheduler_project import task_names


@shared_task(name=task_names.RETRY_CLEANUP, ignore_result=True)
def cleanup() -> int:
    return retry_entries_cleanup()
