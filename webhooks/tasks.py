from celery import shared_task

from webhooks.services import webhook_event_process


@shared_task(name="webhooks.tasks.process_webhook_event", ignore_result=True)
def process_webhook_event(event_id: int) -> str:
    return webhook_event_process(event_id=event_id)
