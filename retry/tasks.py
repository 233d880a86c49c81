from celery import shared_task

from retry.services import retry_entries_cleanup, retry_entries_process_due

PROCESS_TASK_NAME = "retry.tasks.process_due"
CLEANUP_TASK_NAME = "retry.tasks.cleanup"


@shared_task(name=PROCESS_TASK_NAME, ignore_result=True)
def process_due() -> int:
    return len(retry_entries_process_due())


@shared_task(name=CLEANUP_TASK_NAME, ignore_result=True)
def cleanup() -> int:
    return retry_entries_cleanup()
