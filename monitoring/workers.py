"""Who does the work: the Celery workers that answer a broadcast (what queues they consume,
what they run now, what they did since they started) merged with the heartbeats the
database holds for workers, dispatchers and beat.

Asking the workers is a broadcast with a short timeout: with no worker it costs the timeout
once (the other questions are skipped), and with workers it returns as soon as the expected
number (the live heartbeats) has answered. A broker that cannot be reached is an answer
too: `WorkersReport.error` says why, nothing raises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import DurationField, ExpressionWrapper, F
from django.db.models.functions import Now
from kombu import Connection

from scheduler_project.celery import app
from schedules.heartbeats import WORKER_HEARTBEAT_SECONDS
from schedules.models import Heartbeat

INSPECT_TIMEOUT_SECONDS = 1.0
# A worker heartbeat older than three beats: the worker is gone (or its timer is stuck).
WORKER_FRESH = timedelta(seconds=3 * WORKER_HEARTBEAT_SECONDS)
WORKER_PREFIX = "worker:"
HEARTBEATS_SHOWN = timedelta(days=1)
HEARTBEATS_MAX = 50


@dataclass(frozen=True)
class RunningTask:
    name: str
    task_id: str


@dataclass
class WorkerReport:
    hostname: str  # Celery's node name, e.g. worker@host
    answered: bool = False  # answered this broadcast
    queues: list[str] = field(default_factory=list)
    heartbeat_at: datetime | None = None
    heartbeat_age_seconds: float | None = None
    running: list[RunningTask] = field(default_factory=list)
    done: dict[str, int] = field(default_factory=dict)  # task name -> count since start
    pid: int | None = None
    concurrency: int | None = None
    uptime_seconds: int | None = None

    @property
    def heartbeat_fresh(self) -> bool:
        return self.heartbeat_age_seconds is not None and self.heartbeat_age_seconds <= (
            WORKER_FRESH.total_seconds()
        )

    @property
    def tasks_done(self) -> int:
        return sum(self.done.values())

    @property
    def last_task(self) -> str:
        """What it runs now, else the task it ran most (Celery tells counts, not times)."""
        if self.running:
            return f"running {self.running[0].name}"
        if self.done:
            name, count = max(self.done.items(), key=lambda kv: (kv[1], kv[0]))
            return f"idle; mostly {name} ({count}×)"
        return "idle; no task yet" if self.answered else ""


@dataclass
class WorkersReport:
    workers: list[WorkerReport]
    asked: bool  # whether the broadcast went out (not when the broker is known down)
    error: str = ""

    @property
    def answering(self) -> list[WorkerReport]:
        return [w for w in self.workers if w.answered]

    def consumers(self, queue: str) -> list[str]:
        """The answering workers that consume `queue`."""
        return [w.hostname for w in self.answering if queue in w.queues]

    def heartbeat_only(self, queue: str) -> list[str]:
        """Workers that did not answer but whose fresh heartbeat names `queue`."""
        return [
            w.hostname
            for w in self.workers
            if not w.answered and w.heartbeat_fresh and queue in w.queues
        ]


def heartbeats(kinds: tuple[str, ...]) -> list[Heartbeat]:
    """The heartbeats of these kinds seen within HEARTBEATS_SHOWN (a dispatcher's name holds
    its pid: every restart leaves a row), by kind and newest first, at most HEARTBEATS_MAX,
    each with `age_seconds` on the database clock (1 query)."""
    age = ExpressionWrapper(Now() - F("last_seen_at"), output_field=DurationField())
    rows = list(
        Heartbeat.objects.filter(kind__in=kinds, last_seen_at__gte=Now() - HEARTBEATS_SHOWN)
        .annotate(age=age)
        .order_by("kind", "-last_seen_at")[:HEARTBEATS_MAX]
    )
    for row in rows:
        row.age_seconds = max(row.age.total_seconds(), 0.0) if row.age is not None else None
    return rows


def _worker_heartbeats() -> dict[str, WorkerReport]:
    workers = {}
    for beat in heartbeats(("worker",)):
        hostname = beat.name.removeprefix(WORKER_PREFIX)
        workers[hostname] = WorkerReport(
            hostname=hostname,
            queues=sorted((beat.details or {}).get("queues") or []),
            heartbeat_at=beat.last_seen_at,
            heartbeat_age_seconds=beat.age_seconds,
        )
    return workers


def _running(tasks: list[dict[str, Any]] | None) -> list[RunningTask]:
    # (Its `time_start` is the worker's monotonic clock: no age can be told from here.)
    return [RunningTask(str(t.get("name", "?")), str(t.get("id", ""))) for t in tasks or []]


def _ask(workers: dict[str, WorkerReport], timeout: float) -> None:
    """Broadcast active_queues; if anyone answered, stats and active to exactly them."""
    expected = sum(1 for w in workers.values() if w.heartbeat_fresh) or None
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=2) as connection:
        inspect = app.control.inspect(timeout=timeout, connection=connection, limit=expected)
        queues = inspect.active_queues() or {}
        if not queues:
            return
        names = sorted(queues)
        inspect = app.control.inspect(
            timeout=timeout, connection=connection, destination=names, limit=len(names)
        )
        stats = inspect.stats() or {}
        active = inspect.active(safe=True) or {}
    for hostname in names:
        worker = workers.setdefault(hostname, WorkerReport(hostname=hostname))
        worker.answered = True
        worker.queues = sorted(q["name"] for q in queues[hostname] or [] if "name" in q)
        info = stats.get(hostname) or {}
        worker.done = {str(k): int(v) for k, v in (info.get("total") or {}).items()}
        worker.pid = info.get("pid")
        worker.concurrency = (info.get("pool") or {}).get("max-concurrency")
        worker.uptime_seconds = info.get("uptime")
        worker.running = _running(active.get(hostname))


def workers_report(
    *, broker_reachable: bool = True, timeout: float = INSPECT_TIMEOUT_SECONDS
) -> WorkersReport:
    """Every worker known by heartbeat or by answering, answering ones first. With
    `broker_reachable` False (the caller could not read the queues) nobody is asked."""
    workers = _worker_heartbeats()
    if not broker_reachable:
        return WorkersReport(_ordered(workers), asked=False, error="The broker is unreachable.")
    try:
        _ask(workers, timeout)
    except Exception as exc:  # the broker down is a finding on the page, not a 500
        return WorkersReport(_ordered(workers), asked=True, error=f"{type(exc).__name__}: {exc}")
    return WorkersReport(_ordered(workers), asked=True)


def _ordered(workers: dict[str, WorkerReport]) -> list[WorkerReport]:
    return sorted(
        workers.values(), key=lambda w: (not w.answered, not w.heartbeat_fresh, w.hostname)
    )
