"""Every Celery task's registered name, in one place.

The tasks register under these names (each app's tasks.py), the queues route by them
(settings.CELERY_TASK_ROUTES), services publish by them (enqueue.py) and the beat schedules
them (schedules/services/system_schedules.py): none of those imports a task module. A name is
data too: django-celery-beat rows and in-flight messages carry it, so renaming one is a
migration of those (sync_system_schedules rewrites the rows).
"""

DISPATCH = "schedules.tasks.dispatch"
START = "schedules.tasks.executions_start"
ADMIT = "schedules.tasks.admit"  # admit what fits of the waiting queue (a run ended, room came)
CAPACITY_REFRESH = "schedules.tasks.capacity_refresh"
INGEST_CALLBACK = "schedules.tasks.ingest_callback"
START_DUE_RETRIES = "schedules.tasks.start_due_retries"
RECONCILE = "schedules.tasks.reconcile"
PRUNE_HISTORY = "schedules.tasks.prune_history"
EXPIRE_CUSTOM_INTERVALS = "businesses.tasks.expire_custom_intervals"
RETRY_CLEANUP = "retry.tasks.cleanup"
EVALUATE_ALERTS = "monitoring.tasks.evaluate_alerts"  # grade health, write alerts on a change
SEND_ALERTS = "notifications.tasks.send_alerts"
SEND_DELIVERIES = "notifications.tasks.send_deliveries"

# Independent workflows: each runs on its own queue, so a backlog or a crash in one (say,
# a slow Apify making starts pile up) never delays another (the dispatch tick, callbacks).
QUEUES: dict[str, list[str]] = {
    "dispatch": [DISPATCH, EXPIRE_CUSTOM_INTERVALS],
    "start": [START, ADMIT],
    "ingest": [INGEST_CALLBACK],
    "retry": [START_DUE_RETRIES],
    "maintenance": [RECONCILE, RETRY_CLEANUP, PRUNE_HISTORY, CAPACITY_REFRESH, EVALUATE_ALERTS],
    # Calls to the outside world (alert channels, product endpoints): a slow receiver
    # delays nothing of the loop.
    "notify": [SEND_ALERTS, SEND_DELIVERIES],
}
