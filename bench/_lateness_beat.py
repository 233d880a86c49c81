"""The django-celery-beat baseline of bench/lateness.py: one PeriodicTask per slot, the real
beat loop with DatabaseScheduler in its own process, and the same edits made as an operator
makes them in beat's admin. Lateness here is publish time minus slot.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from _common import Row, flush_broker, setup_django, sql, verdict
from _lateness_common import (
    CUSTOM_INTERVAL_MINUTES,
    PAUSE_AHEAD_S,
    TRIGGER_AHEAD_S,
    EditLog,
    Plan,
    edit_rows,
    ms,
    pct,
    pick,
    run_editor,
    warm_plan,
)

BEAT_LEAD_S = 5.0  # beat reads its whole schedule first (about 1.5 s at 10,000 rows)
BEAT_INTERVAL_BEHIND_S = 5.0  # beat's interval edits hit a task due this long ago
BEAT_TASK = "bench.noop"  # never consumed: only the publish side is measured
# An interval edit is undone on the task it changed, so a remove needs a set before it.
BEAT_UNDOES = {"resume": "paused", "interval remove": "interval"}


def _edit_beat(kind: str, plan: Plan, state: dict, log: EditLog) -> None:
    """The same edits as an operator makes them in django-celery-beat's admin: a
    PeriodicTask saved (enabled off/on, another interval), or "run selected tasks"."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    from scheduler_project.celery import app

    now = time.time()
    if kind in ("pause", "resume"):
        i = pick(plan, now + PAUSE_AHEAD_S, state["used"]) if kind == "pause" else state["paused"]
        task = PeriodicTask.objects.get(name=f"slot-{plan.keys[i]}")
        task.enabled = kind == "resume"
        task.save()
        if kind == "pause":
            state["paused"] = i
            log.paused.append(plan.keys[i])
        else:
            del state["paused"]
    elif kind == "trigger":
        i = pick(plan, now + TRIGGER_AHEAD_S, state["used"])
        task = PeriodicTask.objects.get(name=f"slot-{plan.keys[i]}")
        app.send_task(
            task.task, args=json.loads(task.args), headers={"periodic_task_name": task.name}
        )
    elif kind == "interval set":
        i = pick(plan, now - BEAT_INTERVAL_BEHIND_S, state["used"])
        task = PeriodicTask.objects.get(name=f"slot-{plan.keys[i]}")
        state["interval"] = (i, task.interval_id)
        task.interval, _ = IntervalSchedule.objects.get_or_create(
            every=CUSTOM_INTERVAL_MINUTES, period=IntervalSchedule.MINUTES
        )
        task.save()
        log.moved.append(plan.keys[i])  # counted as moved only if it was not sent anyway
    else:
        i, interval_id = state.pop("interval")
        task = PeriodicTask.objects.get(name=f"slot-{plan.keys[i]}")
        task.interval_id = interval_id
        task.save()


def create_tasks(count: int) -> None:
    """One PeriodicTask per slot, each with its own hourly IntervalSchedule (beat_baseline's
    one-per-business design); not due before `set_task_slots`."""
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    PeriodicTask.objects.filter(task=BEAT_TASK).delete()
    PeriodicTask.objects.update(enabled=False)  # the service's own tasks are not measured
    intervals = IntervalSchedule.objects.bulk_create(
        [IntervalSchedule(every=1, period=IntervalSchedule.HOURS) for _ in range(count)]
    )
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(
                name=f"slot-{i}",
                task=BEAT_TASK,
                interval=interval,
                args=json.dumps([i]),
                last_run_at=timezone.now(),
                enabled=True,
            )
            for i, interval in enumerate(intervals)
        ]
        + [  # the editor's warm-up edits this one
            PeriodicTask(
                name="slot-warmup",
                task=BEAT_TASK,
                interval=IntervalSchedule.objects.create(every=1, period=IntervalSchedule.HOURS),
                args=json.dumps([-1]),
                last_run_at=timezone.now(),
                enabled=True,
            )
        ],
        batch_size=2000,
    )
    PeriodicTasks.update_changed()


def set_task_slots(count: int, lead: float, seconds: float) -> Plan:
    """Task i is due at base + i × step: its last run was one interval (1 h) before."""
    from django_celery_beat.models import PeriodicTasks

    from scheduler_project.dbclock import db_now

    base = db_now() + timedelta(seconds=lead)
    step = seconds / count
    sql(
        "UPDATE django_celery_beat_periodictask SET last_run_at = %s::timestamptz"
        " - interval '1 hour' + (substr(name, 6)::int * %s) * interval '1 second'"
        " WHERE task = %s AND name ~ '^slot-[0-9]+$'",
        (base, step, BEAT_TASK),
    )
    PeriodicTasks.update_changed()
    slots = [base + timedelta(seconds=i * step) for i in range(count)]
    return Plan(
        base=base.timestamp(),
        step=step,
        keys=list(range(count)),
        slots=slots,
        edits=0,
        edits_per_second=0,
    )


def _beat(control: Any, results: Any) -> None:
    """The real beat loop (celery.beat.Service.start) with DatabaseScheduler; records the
    moment each message is published and how long each schedule read takes."""
    setup_django()
    import threading

    from celery import signals
    from celery.beat import Service
    from django.db import connection
    from django_celery_beat.schedulers import DatabaseScheduler

    from scheduler_project.celery import app

    sends: list[tuple[int, float]] = []
    reads: list[float] = []

    def published(sender: str = "", body: Any = None, **kwargs: Any) -> None:
        if sender == BEAT_TASK and int(body[0][0]) >= 0:  # not the warm-up task
            sends.append((int(body[0][0]), time.time()))

    signals.after_task_publish.connect(published, weak=False)

    class TimedScheduler(DatabaseScheduler):
        def all_as_schedule(self) -> dict:
            start = time.perf_counter()
            try:
                return super().all_as_schedule()
            finally:
                reads.append(time.perf_counter() - start)

    connection.ensure_connection()
    with app.producer_or_acquire():  # warm broker pool, as a live process
        pass
    results.put("ready")
    stop_at = control.get()
    service = Service(app=app, scheduler_cls=TimedScheduler)
    service.scheduler  # noqa: B018 -- creates the scheduler: its initial read
    started = time.time()
    threading.Timer(max(0.0, stop_at - time.time()), service.stop).start()
    service.start()
    stopped = time.time()
    results.put((sends, reads, started, stopped, float(service.scheduler.max_interval)))
    connection.close()


@dataclass
class BeatRun:
    tasks: int
    edits: EditLog
    sent: int
    duplicates: int
    missed: int
    moved: int
    lateness_ms: list[float]
    all_lower_bound_ms: list[float]  # unsent slots counted at the stop
    reads_s: list[float]
    ready_before_first_slot: bool
    max_interval: float


def run_beat(tasks: int, seconds: float, eps: float) -> BeatRun:
    create_tasks(tasks)
    flush_broker()
    ctx = mp.get_context("spawn")
    plans, control, results, edit_results = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
    beat = ctx.Process(target=_beat, args=(control, results))
    warm = warm_plan(["warmup"], [datetime.now(UTC)], [])
    editor = ctx.Process(
        target=run_editor, args=(_edit_beat, BEAT_UNDOES, warm, plans, edit_results)
    )
    beat.start()
    editor.start()
    try:
        assert results.get(timeout=120) == "ready"
        assert edit_results.get(timeout=120) == "ready"
        plan = set_task_slots(tasks, BEAT_LEAD_S, seconds)
        plan.edits, plan.edits_per_second = round(seconds * eps), eps
        grace = 10.0
        control.put(plan.base + seconds + grace)
        plans.put(plan)
        edits: EditLog = edit_results.get(timeout=seconds + 120)
        sends, reads, started, stopped, max_interval = results.get(timeout=seconds + 300)
        for p in (beat, editor):
            p.join(timeout=60)
    finally:
        for p in (beat, editor):
            if p.is_alive():
                p.terminate()
    first: dict[int, float] = {}
    counts: dict[int, int] = {}
    for i, at in sends:
        first.setdefault(i, at)
        counts[i] = counts.get(i, 0) + 1
    slot = {i: plan.base + i * plan.step for i in plan.keys}
    moved = {i for i in set(edits.moved) | set(edits.paused) if i not in first}
    lateness = [1000 * (at - slot[i]) for i, at in first.items()]
    unsent = [i for i in plan.keys if i not in first and i not in moved]
    return BeatRun(
        tasks=tasks,
        edits=edits,
        sent=len(first),
        duplicates=sum(n - 1 for n in counts.values()),
        missed=len(unsent),
        moved=len(moved),
        lateness_ms=lateness,
        all_lower_bound_ms=lateness + [1000 * (stopped - slot[i]) for i in unsent],
        reads_s=reads,
        ready_before_first_slot=started < plan.base,
        max_interval=max_interval,
    )


def beat_rows(b: BeatRun) -> list[Row]:
    reads_ms = [1000 * s for s in b.reads_s]
    return [
        ("beat: PeriodicTasks (one slot each)", b.tasks, "", ""),
        *edit_rows("beat: ", b.edits),
        ("beat: schedule reads (initial + after edits)", len(reads_ms), "", ""),
        ("beat: schedule read p50 (ms)", pct(reads_ms, 50), "", ""),
        ("beat: slots sent", b.sent, b.tasks - b.moved, ""),
        ("beat: duplicates", b.duplicates, 0, verdict(b.duplicates == 0)),
        ("beat: missed (not sent by the stop)", b.missed, 0, verdict(b.missed == 0)),
        ("beat: slots moved by an edit (disabling clears last_run_at)", b.moved, "", ""),
        ("beat: lateness p50, sent slots (ms)", ms(pct(b.lateness_ms, 50)), "", ""),
        ("beat: lateness p99, sent slots (ms)", ms(pct(b.lateness_ms, 99)), "", ""),
        ("beat: lateness max, sent slots (ms)", ms(pct(b.lateness_ms, 100)), "", ""),
        (
            "beat: lateness p50, all slots (ms)",
            ms(pct(b.all_lower_bound_ms, 50)),
            ">= (unsent at stop)",
            "",
        ),
        (
            "beat: lateness p99, all slots (ms)",
            ms(pct(b.all_lower_bound_ms, 99)),
            ">= (unsent at stop)",
            "",
        ),
        (
            "beat: loop started before the first slot",
            b.ready_before_first_slot,
            True,
            verdict(b.ready_before_first_slot),
        ),
    ]
