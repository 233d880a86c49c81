"""What both halves of bench/lateness.py share: the slot plan, the operator edit load and its
log, percentiles, and the editor process, so that ours and django-celery-beat get the same
edits at the same pace and are measured the same way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from _common import Row, setup_django, verdict

PAUSE_AHEAD_S = 4.0  # a paused batch is due this long after the pause (resumed 1 s later)
TRIGGER_AHEAD_S = 6.0  # a triggered batch is due this long after the trigger
CUSTOM_INTERVAL_MINUTES = 60
KINDS = ("pause", "resume", "trigger", "interval set", "interval remove")


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(value: float) -> float | str:
    return "n/a" if math.isnan(value) else value


@dataclass
class Plan:
    """What the editor needs: the slots in order (ids of batches or indexes of tasks)."""

    base: float  # epoch seconds of slot 0 (read on the database clock)
    step: float  # seconds between consecutive slots
    keys: list[Any]  # batch ids (ours) or task indexes (beat), in slot order
    slots: list[datetime]
    edits: int
    edits_per_second: float
    teams: list[str] = field(default_factory=list)

    def index_at(self, moment: float) -> int:
        return min(len(self.keys) - 1, max(0, math.ceil((moment - self.base) / self.step)))


@dataclass
class EditLog:
    kinds: list[str] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    refused: int = 0
    paused: list[Any] = field(default_factory=list)  # keys paused at some point
    moved: list[Any] = field(default_factory=list)  # keys whose slot an edit moved
    late_start_ms: float = 0.0  # worst delay of an edit behind its planned moment


Edit = Callable[[str, Plan, dict, EditLog], None]  # one edit of a kind, logged into EditLog


def pick(plan: Plan, moment: float, used: set[Any]) -> int:
    """The slot due at `moment`, or the nearest one no edit has touched yet."""
    i = plan.index_at(moment)
    while plan.keys[i] in used and i < len(plan.keys) - 1:
        i += 1
    while plan.keys[i] in used and i > 0:
        i -= 1
    used.add(plan.keys[i])
    return i


def warm_plan(keys: list[Any], slots: list[datetime], teams: list[str]) -> Plan:
    """One edit of each kind on objects outside the window, before the clock starts: the
    editor stands for a long-running web process, not for a cold start."""
    return Plan(
        base=time.time(),
        step=1.0,
        keys=keys,
        slots=slots,
        edits=len(KINDS),
        edits_per_second=1,
        teams=teams,
    )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.5)


def run_editor(edit: Edit, undoes: dict[str, str], warm: Plan, plans: Any, results: Any) -> None:
    """The editor process: one edit every 1/eps seconds from the first slot on, each timed on
    its own. `edit` is a module-level function (the process is spawned); an edit kind in
    `undoes` needs that key in the state, else a trigger is made in its place."""
    setup_django()
    from django.db import connection

    import businesses.services  # noqa: F401 -- imported before the clock starts
    import schedules.services.batches  # noqa: F401
    from scheduler_project.celery import app
    from scheduler_project.errors import ConflictError

    connection.ensure_connection()
    with app.producer_or_acquire():  # warm broker pool, as a live web process
        pass
    state: dict = {"used": set(), "team": 0}
    for kind in KINDS:
        edit(kind, warm, state, EditLog())
    results.put("ready")
    plan: Plan = plans.get()
    log, state = EditLog(), {"used": set(), "team": 0}
    for k in range(plan.edits):
        at = plan.base + k / plan.edits_per_second
        if (wait := at - time.time()) > 0:
            time.sleep(wait)
        log.late_start_ms = max(log.late_start_ms, 1000 * (time.time() - at))
        kind = KINDS[k % len(KINDS)]
        if kind in undoes and undoes[kind] not in state:
            kind = "trigger"
        start = time.perf_counter()
        try:
            edit(kind, plan, state, log)
        except ConflictError:
            log.refused += 1
        log.ms.append(1000 * (time.perf_counter() - start))
        log.kinds.append(kind)
    if "paused" in state:  # never leave a batch paused
        start = time.perf_counter()
        edit("resume", plan, state, log)
        log.ms.append(1000 * (time.perf_counter() - start))
        log.kinds.append("resume")
    results.put(log)
    connection.close()


def edit_rows(prefix: str, log: EditLog) -> list[Row]:
    mix = ", ".join(f"{log.kinds.count(k)} {k}" for k in KINDS if k in log.kinds)
    slowest = log.kinds[log.ms.index(max(log.ms))] if log.ms else "-"
    return [
        (f"{prefix}edits made ({mix})", len(log.ms), "", ""),
        (f"{prefix}edits refused (409)", log.refused, 0, verdict(log.refused == 0)),
        (f"{prefix}edit p50 (ms)", pct(log.ms, 50), "", ""),
        (f"{prefix}edit p99 (ms)", pct(log.ms, 99), "", ""),
        (f"{prefix}edit max (ms), {slowest}", max(log.ms, default=0.0), "", ""),
        (f"{prefix}editor behind its pace, worst (ms)", log.late_start_ms, "", ""),
    ]
