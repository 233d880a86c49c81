"""The one place where services publish Celery messages.

Tasks import services, never the reverse: a service names the task here (by its registered
name, routed by CELERY_TASK_ROUTES) instead of importing a task module, so no app's
services depend on another app's tasks. Publishing waits for the caller's commit, so a
worker never sees a row that is not there yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from django.db import transaction

from scheduler_project import conf, task_names
from scheduler_project.celery import app

logger = logging.getLogger(__name__)


def _publish_starts(execution_ids: Sequence[UUID | str]) -> int:
    size = max(1, conf.get().start_message_size)
    ids = [str(i) for i in execution_ids]
    messages = 0
    try:
        with app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                app.send_task(
                    task_names.START, args=(ids[start : start + size],), producer=producer
                )
                messages += 1
    except Exception:
        # Nothing is lost: the executions stay pending and lease recovery re-enqueues them.
        logger.exception("could not publish start messages", extra={"action": "enqueue"})
    return messages


def executions_enqueue_start(execution_ids: Sequence[UUID | str]) -> None:
    """Publish start messages once the current transaction has committed.

    Several executions share one message: one Celery message per execution caps dispatch
    at the broker's publish rate (docs/benchmarks.md).
    """
    if execution_ids:
        ids = list(execution_ids)
        transaction.on_commit(lambda: _publish_starts(ids))


def _publish_admission(countdown: float) -> None:
    try:
        app.send_task(task_names.ADMIT, countdown=countdown or None)
    except Exception:
        # Nothing is lost: the dispatch tick asks for an admission round while work waits.
        logger.exception("could not publish an admission round", extra={"action": "enqueue"})


def capacity_enqueue_admission(*, countdown: float = 0) -> None:
    """Ask a start worker for an admission round once the current transaction has committed
    (a run ended, limits rose, a hold runs out in `countdown` seconds)."""
    transaction.on_commit(lambda: _publish_admission(countdown))


def callback_enqueue_processing(event_id: int) -> None:
    """Process a stored callback once the current transaction has committed.

    robust: with the broker down the callback is still accepted (it is stored); the
    reconcile tick enqueues it again once the broker is back.
    """
    transaction.on_commit(
        lambda: app.send_task(task_names.INGEST_CALLBACK, args=(event_id,)), robust=True
    )


def callbacks_enqueue_processing_now(event_ids: Sequence[int]) -> None:
    """Publish processing of callbacks found stale (no transaction to wait for)."""
    for event_id in event_ids:
        app.send_task(task_names.INGEST_CALLBACK, args=(event_id,))


def _publish_quietly(task_name: str, what: str) -> None:
    try:
        app.send_task(task_name)
    except Exception:
        # Nothing is lost: the rows wait in their outbox and the periodic sender takes them.
        logger.exception("could not publish %s", what, extra={"action": "enqueue"})


def notifications_enqueue_deliveries() -> None:
    """Send the webhook deliveries just written, once the current transaction commits."""
    transaction.on_commit(
        lambda: _publish_quietly(task_names.SEND_DELIVERIES, "webhook deliveries")
    )


def notifications_enqueue_alerts() -> None:
    """Send the alerts just written, once the current transaction commits."""
    transaction.on_commit(lambda: _publish_quietly(task_names.SEND_ALERTS, "alerts"))
