"""Queues and workers: what waits in each Celery queue (read from the broker), which workers
consume it (they answer a short broadcast) and every worker's, dispatcher's and beat's
heartbeat. The page refreshes itself: htmx swaps in the body partial every few seconds.

Nothing here may turn into a 500: a broker that cannot be read, or no worker answering,
is said on the page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import View

from dashboard.views.base import StaffRequiredMixin
from monitoring.queues import QueueState, queue_states
from monitoring.workers import INSPECT_TIMEOUT_SECONDS, WorkersReport, heartbeats, workers_report
from scheduler_project import conf

REFRESH_SECONDS = 5
LOOP_KINDS = ("dispatcher", "beat")


def ago(seconds: float | None) -> str:
    """12 s, 4 min 05 s, 2 h 10 min, 3 d 4 h."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _queue_row(queue: QueueState, report: WorkersReport, tick: float) -> dict:
    consumers = report.consumers(queue.name)
    silent = report.heartbeat_only(queue.name)
    stale = queue.oldest_age_seconds is not None and queue.oldest_age_seconds > 2 * tick
    if queue.backlog and not consumers and not silent:
        status = "critical"
    elif stale or (queue.backlog and not consumers):
        status = "warning"
    else:
        status = "healthy"
    return {
        "name": queue.name,
        "backlog": queue.backlog,
        "oldest": ago(queue.oldest_age_seconds) if queue.backlog else "—",
        "consumers": consumers,
        "heartbeat_only": silent,
        "tasks": settings.SCHEDULER_QUEUES.get(queue.name, []),
        "status": status,
    }


def _worker_row(worker: object) -> dict:
    return {
        "worker": worker,
        "heartbeat": (
            f"{ago(worker.heartbeat_age_seconds)} ago" if worker.heartbeat_at else "none recorded"
        ),
        "uptime": ago(worker.uptime_seconds) if worker.uptime_seconds is not None else "—",
    }


def queues_context() -> dict:
    """At most three broadcasts, one queue read and two heartbeat queries."""
    try:
        states, broker_error = queue_states(), ""
    except Exception as exc:  # the broker down is what this page must show, not a 500
        states, broker_error = None, f"{type(exc).__name__}: {exc}"[:300]
    report = workers_report(broker_reachable=states is not None)
    tick = conf.get().dispatch_tick_seconds
    loop = heartbeats(LOOP_KINDS)
    for beat in loop:
        beat.age_text = ago(beat.age_seconds)
    return {
        "broker_error": broker_error,
        "inspect_error": report.error if states is not None else "",
        "asked": report.asked,
        "timeout": INSPECT_TIMEOUT_SECONDS,
        "queues": [_queue_row(q, report, tick) for q in states or []],
        "workers": [_worker_row(w) for w in report.workers],
        "answering": len(report.answering),
        "loop_heartbeats": loop,
        "refresh_seconds": REFRESH_SECONDS,
    }


class QueuesView(StaffRequiredMixin, View):
    def get(self, request: HttpRequest) -> HttpResponse:
        template = "dashboard/queues.html"
        if request.htmx:
            template = "dashboard/partials/queues_body.html"
        return render(request, template, queues_context())
