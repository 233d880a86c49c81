"""The one path from committed executions to Celery start messages (tick, trigger, lease
recovery all use it)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from uuid import UUID

from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)


def _publish(execution_ids: Sequence[UUID]) -> int:
    from schedules.tasks import executions_start

    size = max(1, settings.SCHEDULER_START_MESSAGE_SIZE)
    ids = [str(i) for i in execution_ids]
    messages = 0
    try:
        with executions_start.app.producer_or_acquire() as producer:
            for start in range(0, len(ids), size):
                executions_start.apply_async((ids[start : start + size],), producer=producer)
                messages += 1
    except Exception:
        # Nothing is lost: the executions stay pending and lease recovery re-enqueues them.
        logger.exception("could not publish start messages", extra={"action": "enqueue"})
    return messages


def executions_enqueue_start(execution_ids: Sequence[UUID]) -> None:
    """Publish start messages once the current transaction has committed.

    Several executions share one message: one Celery message per execution caps dispatch
    at the broker's publish rate (BASELINES.md).
    """
    if execution_ids:
        ids = list(execution_ids)
        transaction.on_commit(lambda: _publish(ids))
