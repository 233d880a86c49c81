"""Heartbeats: the last sign of life of each dispatcher and worker, for health and the
dashboard. Written on the database clock."""

from __future__ import annotations

import os
import socket

from celery import bootsteps
from django.db import close_old_connections

from scheduler_project.dbclock import db_now
from schedules.models import Heartbeat

WORKER_HEARTBEAT_SECONDS = 30


def heartbeat_record(kind: str, name: str | None = None, **details: object) -> None:
    name = name or f"{kind}:{socket.gethostname()}:{os.getpid()}"
    Heartbeat.objects.update_or_create(
        name=name, defaults={"kind": kind, "last_seen_at": db_now(), "details": details}
    )


def worker_heartbeat(hostname: str, queues: list[str] | None = None) -> None:
    """Called from the Celery worker's timer thread: its own connection, closed when stale.
    `queues` (the ones it consumes) tell the `queues` health check who reads what."""
    close_old_connections()
    try:
        heartbeat_record("worker", name=f"worker:{hostname}", queues=queues or [])
    finally:
        close_old_connections()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Every worker records a heartbeat now and every 30 s, so health and the dashboard
    show which workers are alive (added to the worker by scheduler_project/celery.py)."""

    requires = {"celery.worker.components:Timer"}

    def start(self, worker: object) -> None:
        queues = sorted(worker.app.amqp.queues.consume_from)
        worker_heartbeat(worker.hostname, queues)
        self.timer = worker.timer.call_repeatedly(
            WORKER_HEARTBEAT_SECONDS, worker_heartbeat, (worker.hostname, queues), priority=10
        )

    def stop(self, worker: object) -> None:
        if getattr(self, "timer", None):
            self.timer.cancel()
