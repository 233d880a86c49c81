"""The beat's scheduler: django-celery-beat's, plus a heartbeat so health sees the beat."""

from __future__ import annotations

import time

from django_celery_beat.schedulers import DatabaseScheduler

from scheduler_project.production import refuse_unsafe_production
from schedules.heartbeats import heartbeat_record


class HeartbeatScheduler(DatabaseScheduler):
    HEARTBEAT_SECONDS = 30

    def __init__(self, *args: object, **kwargs: object) -> None:
        # Before the scheduler reads its schedule: unsafe production settings stop beat here.
        refuse_unsafe_production("Celery beat")
        super().__init__(*args, **kwargs)

    def tick(self, *args: object, **kwargs: object) -> float:
        now = time.monotonic()
        if now - getattr(self, "_last_heartbeat", float("-inf")) >= self.HEARTBEAT_SECONDS:
            heartbeat_record("beat")
            self._last_heartbeat = now
        return super().tick(*args, **kwargs)
