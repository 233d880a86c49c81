"""The design this service replaces: one django-celery-beat PeriodicTask per business, all due
now, sent by the real `DatabaseScheduler` (driven in-process with `tick()`) to the bench Redis db.

    python bench/beat_baseline.py [--tasks 1000] [--fit-tasks 500] [--shared-schedule]

Beat's tick compares the whole schedule on every send, so the cost per send grows with N:
the time for 10,000 is extrapolated both linearly and from a fit over two sizes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

from _common import (
    REDIS_URL,
    Row,
    flush_broker,
    print_table,
    queue_length,
    queued_messages,
    rate,
    recreate_database,
    timed,
    verdict,
)

TASK = "bench.noop"  # never consumed: only the publish side is measured
BASELINE = {"sends_per_s": 30.0, "seconds_10k": 329.0}  # BASELINES.md, 10,000 tasks


@dataclass
class BeatRun:
    tasks: int
    load_s: float  # scheduler creation: initial read of every PeriodicTask
    seconds: float  # creation to the N-th message in Redis
    messages: int
    sent_once: bool
    sync_s: float  # writing last_run_at back for every sent entry

    @property
    def per_s(self) -> float:
        return rate(self.tasks, self.seconds)


def create_tasks(count: int, shared: bool) -> None:
    from django.utils import timezone
    from django_celery_beat.models import IntervalSchedule, PeriodicTask, PeriodicTasks

    PeriodicTask.objects.filter(task=TASK).delete()
    PeriodicTask.objects.update(enabled=False)  # the service's own tasks are not measured
    IntervalSchedule.objects.filter(periodictask__isnull=True).delete()
    hour = IntervalSchedule.HOURS
    if shared:
        intervals = [IntervalSchedule.objects.create(every=1, period=hour)] * count
    else:
        intervals = IntervalSchedule.objects.bulk_create(
            [IntervalSchedule(every=1, period=hour) for _ in range(count)]
        )
    due = timezone.now() - timedelta(hours=2)
    PeriodicTask.objects.bulk_create(
        [
            PeriodicTask(
                name=f"business-{i}",
                task=TASK,
                interval=interval,
                args=json.dumps([i]),
                last_run_at=due,
                enabled=True,
            )
            for i, interval in enumerate(intervals)
        ],
        batch_size=2000,
    )
    PeriodicTasks.update_changed()


def run_beat(count: int, shared: bool, timeout: float = 1800.0) -> BeatRun:
    from django_celery_beat.models import PeriodicTask
    from django_celery_beat.schedulers import DatabaseScheduler

    from scheduler_project.celery import app

    create_tasks(count, shared)
    flush_broker()
    start = time.perf_counter()
    scheduler = DatabaseScheduler(app=app)  # not lazy: reads the whole schedule now
    load = time.perf_counter() - start
    sent = ticks = 0
    while sent < count and time.perf_counter() - start < timeout:
        delay = scheduler.tick()
        ticks += 1
        if delay and delay > 0:  # nothing due at the heap's top: check what reached Redis
            sent = queue_length()
            if sent < count:
                time.sleep(min(delay, 0.05))
        elif ticks % 250 == 0:
            sent = queue_length()
    seconds = time.perf_counter() - start
    with timed() as t_sync:
        scheduler.sync()
    messages = queued_messages()
    args = [tuple(a) for name, a in messages if name == TASK]
    written = PeriodicTask.objects.filter(task=TASK, total_run_count=1).count()
    return BeatRun(
        tasks=count,
        load_s=load,
        seconds=seconds,
        messages=len(messages),
        sent_once=len(args) == len(set(args)) == count == written,
        sync_s=t_sync.seconds,
    )


def extrapolate(runs: list[BeatRun], target: int = 10_000) -> tuple[float, float | None]:
    """(linear: the measured rate kept; quadratic: t(N) = a N + b N^2 through two sizes)."""
    big = max(runs, key=lambda r: r.tasks)
    linear = target / big.per_s
    if len(runs) < 2:
        return linear, None
    small = min(runs, key=lambda r: r.tasks)
    n1, n2 = small.tasks, big.tasks
    u1, u2 = small.seconds / n1, big.seconds / n2  # seconds per send = a + b N
    b = max(0.0, (u2 - u1) / (n2 - n1))
    a = u2 - b * n2
    return linear, a * target + b * target * target


def beat_rows(runs: list[BeatRun]) -> list[Row]:
    big = max(runs, key=lambda r: r.tasks)
    linear, quadratic = extrapolate(runs)
    rows: list[Row] = []
    for r in sorted(runs, key=lambda r: r.tasks):
        rows += [
            (f"{r.tasks:,} tasks: initial schedule read (s)", r.load_s, "", ""),
            (f"{r.tasks:,} tasks: time until all sent (s)", r.seconds, "", ""),
            (f"{r.tasks:,} tasks: sends/s", r.per_s, "", ""),
            (
                f"{r.tasks:,} tasks: messages in Redis",
                r.messages,
                r.tasks,
                verdict(r.sent_once and r.messages == r.tasks),
            ),
            (
                f"{r.tasks:,} tasks: sync last_run_at (ms/task)",
                1000 * r.sync_s / r.tasks,
                "3.7 (BASELINES)",
                "",
            ),
        ]
    rows += [
        (
            "10,000 tasks, linear from largest (s)",
            linear,
            f"{BASELINE['seconds_10k']:.0f} meas.",
            "",
        ),
        (
            "10,000 tasks, a*N+b*N^2 fit (s)",
            quadratic if quadratic is not None else "n/a",
            f"{BASELINE['seconds_10k']:.0f} meas.",
            "",
        ),
        (f"sends/s at {big.tasks:,} vs BASELINES 30/s at 10,000", f"{big.per_s / 30:.1f}x", "", ""),
    ]
    return rows


def measure(tasks: int, fit_tasks: int, shared: bool) -> list[BeatRun]:
    recreate_database()
    sizes = [s for s in (fit_tasks, tasks) if s > 0]
    return [run_beat(n, shared) for n in sorted(set(sizes))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--fit-tasks", type=int, default=500, help="second size; 0: none")
    parser.add_argument(
        "--shared-schedule",
        action="store_true",
        help="one IntervalSchedule for all tasks (default: one each)",
    )
    args = parser.parse_args()
    runs = measure(args.tasks, args.fit_tasks, args.shared_schedule)
    print_table(
        f"django-celery-beat DatabaseScheduler, {args.tasks:,} due PeriodicTasks"
        f" ({'shared' if args.shared_schedule else 'one'} IntervalSchedule"
        f"{'' if args.shared_schedule else ' each'}), Redis {REDIS_URL}",
        ("figure", "value", "baseline", "verdict"),
        beat_rows(runs),
    )
    flush_broker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
