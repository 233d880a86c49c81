"""Dispatch lateness under schedule edits: N batches fall due continuously over a window,
k `manage.py run_dispatcher --interval 1` processes dispatch them, and an editor process makes
one operator edit per second through the project's services (pause, resume, trigger, set and
remove a team's custom interval). The same slots and the same edit load then go to
django-celery-beat's DatabaseScheduler (one PeriodicTask per slot, the real beat loop).

    python bench/lateness.py [--batches 10000] [--seconds 60] [--dispatchers 2]
        [--edits-per-second 1] [--tick 1] [--no-baseline] [--baseline-tasks N]

Lateness of a slot = when its Execution row was written (`Execution.created_at`) minus its
`scheduled_for`; the output names the clock of `created_at`. For beat: when the message was
published (`after_task_publish` in the beat process) minus the slot. A slot waits up to one
tick for the dispatcher, so the tick interval is the floor of our lateness.

Beat runs at --baseline-tasks (default: --batches) and is stopped 10 s after the last slot;
a slot not sent by then is missed and enters the "all slots" percentiles at the stop time
(a lower bound). Exit status 1 when our dispatch duplicated or missed a slot.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from _common import (
    ROOT,
    Row,
    flush_broker,
    print_table,
    rate,
    recreate_database,
    sql,
    verdict,
)
from _lateness_beat import beat_rows, run_beat
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
    wait_for,
    warm_plan,
)

LEAD_S = 2.0  # first slot this long after the dispatchers are up
TEAMS, BUSINESSES_PER_TEAM = 4, 10
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A custom interval is removed from the team it was set on, which needs no prior set.
OURS_UNDOES = {"resume": "paused"}


# --- ours ------------------------------------------------------------------------------------


def create_batches(count: int) -> tuple[list[int], Plan]:
    """`count` batches over the standard groups (not due yet), plus teams whose businesses
    sit in some of them (the custom-interval edits move those). Returns the batch ids, and
    one more batch and team for the editor's warm-up."""
    from businesses.models import Team
    from businesses.platforms import get_platform
    from businesses.services import business_register
    from schedules.models import Batch, ScheduleGroup
    from schedules.services.assignment import schedule_groups_init

    schedule_groups_init()
    groups = list(ScheduleGroup.objects.order_by("id"))
    later = datetime.now(UTC) + timedelta(days=1)
    batches = Batch.objects.bulk_create(
        [
            Batch(
                group=g,
                batch_index=i // len(groups),
                capacity=get_platform(g.platform).capacity,
                business_count=0,
                next_run_at=later,
            )
            for i in range(count + 1)
            for g in [groups[i % len(groups)]]
        ],
        batch_size=2000,
    )
    for t in [*range(TEAMS), "warmup"]:
        team = Team.objects.create(team_id=f"lateness-team-{t}", tier="free")
        for b in range(BUSINESSES_PER_TEAM):
            business_register(team=team, platform="google", external_id=f"ChIJlateT{t}B{b:08d}")
    sql("VACUUM ANALYZE schedules_batch")
    *ids, warm = [b.pk for b in batches]
    return ids, warm_plan([warm], [later], ["lateness-team-warmup"])


def set_slots(ids: list[int], lead: float, seconds: float) -> Plan:
    """Slot i of the window at base + i × step, base = database now + lead. Each batch's
    stagger offset puts its grid on the slot's second, so a resume keeps the slot."""
    from scheduler_project.dbclock import db_now
    from schedules.models import Batch

    base = db_now() + timedelta(seconds=lead)
    step = seconds / len(ids)
    slots = [base + timedelta(seconds=i * step) for i in range(len(ids))]
    minutes = dict(Batch.objects.filter(id__in=ids).values_list("id", "group__interval_minutes"))
    offsets = [
        int((slot - EPOCH).total_seconds()) % (minutes[i] * 60)
        for i, slot in zip(ids, slots, strict=True)
    ]
    sql(
        "UPDATE schedules_batch AS b SET next_run_at = v.slot, stagger_offset_seconds = v.stagger"
        " FROM unnest(%s::bigint[], %s::timestamptz[], %s::integer[]) AS v(id, slot, stagger)"
        " WHERE b.id = v.id",
        (ids, slots, offsets),
    )
    return Plan(
        base=base.timestamp(), step=step, keys=ids, slots=slots, edits=0, edits_per_second=0
    )


def _edit_ours(kind: str, plan: Plan, state: dict, log: EditLog) -> None:
    from businesses.models import Team
    from businesses.services import custom_interval_remove, custom_interval_set
    from schedules.services.batches import batch_pause, batch_resume, batch_trigger

    now = time.time()
    if kind == "pause":
        i = pick(plan, now + PAUSE_AHEAD_S, state["used"])
        batch_pause(batch_id=plan.keys[i], reason="bench: lateness", actor="bench")
        state["paused"] = i
        log.paused.append(plan.keys[i])
    elif kind == "resume":
        i = state.pop("paused")
        batch = batch_resume(batch_id=plan.keys[i], actor="bench")
        if batch.next_run_at != plan.slots[i]:
            log.moved.append(plan.keys[i])
    elif kind == "trigger":
        i = pick(plan, now + TRIGGER_AHEAD_S, state["used"])
        batch_trigger(batch_id=plan.keys[i], actor="bench")
    else:
        team = Team.objects.get(team_id=plan.teams[state["team"] % len(plan.teams)])
        if kind == "interval set":
            custom_interval_set(
                team=team,
                interval_minutes=CUSTOM_INTERVAL_MINUTES,
                platform="google",
                reason="bench: lateness",
                actor="bench",
            )
        else:
            custom_interval_remove(team=team, platform="google", actor="bench")
            state["team"] += 1


@dataclass
class OursRun:
    batches: int
    tick: float
    dispatchers: int
    clock: str
    edits: EditLog
    dispatched: int
    duplicates: int
    missed: int
    moved: int
    skipped_overlap: int
    extra: int  # scheduled executions of batches outside the window (custom-interval groups)
    lateness_ms: list[float]
    claim_lateness_ms: list[float]  # from Batch.last_run_at, the claim's database time
    tick_errors: int
    exit_codes: list[int]


def created_at_clock() -> str:
    from django.db.models import NOT_PROVIDED

    from schedules.models import Execution

    f = Execution._meta.get_field("created_at")
    if f.db_default is not NOT_PROVIDED:
        return "database clock (db_default)"
    return "dispatcher's Python clock (auto_now_add), same host as PostgreSQL"


def run_ours(batches: int, seconds: float, dispatchers: int, eps: float, tick: float) -> OursRun:
    recreate_database()
    flush_broker()
    ids, warm = create_batches(batches)
    sql("DELETE FROM schedules_heartbeat")
    ctx = mp.get_context("spawn")
    plans, results = ctx.Queue(), ctx.Queue()
    editor = ctx.Process(target=run_editor, args=(_edit_ours, OURS_UNDOES, warm, plans, results))
    editor.start()
    with ExitStack() as stack:
        logs = [stack.enter_context(tempfile.TemporaryFile("w+")) for _ in range(dispatchers)]
        procs = [
            subprocess.Popen(
                [sys.executable, "manage.py", "run_dispatcher", "--interval", str(tick)],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=log,
                text=True,
            )
            for log in logs
        ]
        try:
            wait_for(
                lambda: (
                    sql("SELECT count(*) FROM schedules_heartbeat WHERE kind = 'dispatcher'")[0][0]
                    >= dispatchers
                ),
                120,
                "the dispatchers' first tick",
            )
            assert results.get(timeout=120) == "ready"
            plan = set_slots(ids, LEAD_S, seconds)
            plan.edits, plan.edits_per_second = round(seconds * eps), eps
            plan.teams = [f"lateness-team-{t}" for t in range(TEAMS)]
            plans.put(plan)
            end = plan.base + seconds
            edits: EditLog = results.get(timeout=seconds + 120)  # at the end of the window
            editor.join(timeout=30)
            expected = len(plan.keys) - len(set(edits.moved))
            grace = max(10.0, 5 * tick)

            def all_dispatched() -> bool:  # a cheap count: the exact check comes after
                done = sql("SELECT count(*) FROM schedules_execution WHERE trigger = 'scheduled'")
                return done[0][0] >= expected or time.time() > end + grace

            time.sleep(max(0.0, end - time.time()))
            wait_for(all_dispatched, grace + 30, "the last slots")
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            codes = [p.wait(timeout=60) for p in procs]
            if editor.is_alive():
                editor.terminate()
        stderr = ""
        for log in logs:
            log.seek(0)
            stderr += log.read()
    return analyse_ours(plan, edits, tick, dispatchers, stderr, codes)


def analyse_ours(
    plan: Plan, edits: EditLog, tick: float, dispatchers: int, stderr: str, codes: list[int]
) -> OursRun:
    planned = dict(zip(plan.keys, plan.slots, strict=True))
    rows = sql(
        "SELECT batch_id, scheduled_for, created_at, state FROM schedules_execution"
        " WHERE trigger = 'scheduled'"
    )
    per_slot: dict[tuple[int, datetime], int] = {}
    per_batch: dict[int, int] = {}
    lateness, extra, skipped = [], 0, 0
    for batch_id, scheduled_for, created_at, state in rows:
        if batch_id not in planned:
            extra += 1
            continue
        per_slot[(batch_id, scheduled_for)] = per_slot.get((batch_id, scheduled_for), 0) + 1
        per_batch[batch_id] = per_batch.get(batch_id, 0) + 1
        if scheduled_for == planned[batch_id]:
            lateness.append((created_at - scheduled_for).total_seconds() * 1000)
            skipped += state == "skipped"
    dispatched = sum(1 for b, s in planned.items() if (b, s) in per_slot)
    duplicates = sum(n - 1 for n in per_batch.values())  # a slot twice, or a second slot
    moved = set(edits.moved)
    missed = sum(1 for b, s in planned.items() if (b, s) not in per_slot and b not in moved)
    claim = [
        (last_run_at - planned[b]).total_seconds() * 1000
        for b, last_run_at in sql(
            "SELECT id, last_run_at FROM schedules_batch WHERE id = ANY(%s)"
            " AND last_run_at IS NOT NULL",
            (plan.keys,),
        )
    ]
    if stderr.strip() and "dispatch tick failed" not in stderr:
        print(f"dispatcher stderr:\n{stderr[-2000:]}", file=sys.stderr)
    return OursRun(
        batches=len(planned),
        tick=tick,
        dispatchers=dispatchers,
        clock=created_at_clock(),
        edits=edits,
        dispatched=dispatched,
        duplicates=duplicates,
        missed=missed,
        moved=len(moved),
        skipped_overlap=skipped,
        extra=extra,
        lateness_ms=lateness,
        claim_lateness_ms=claim,
        tick_errors=stderr.count("dispatch tick failed"),
        exit_codes=codes,
    )


# --- output ----------------------------------------------------------------------------------


def ours_rows(r: OursRun, seconds: float) -> list[Row]:
    tick_ms = 1000 * r.tick
    p99 = pct(r.lateness_ms, 99)
    return [
        ("tick interval (ms)", tick_ms, "", ""),
        ("batches", r.batches, "", ""),
        ("slots due per second", rate(r.batches, seconds), "", ""),
        *edit_rows("", r.edits),
        ("slots dispatched", r.dispatched, r.batches - r.moved, ""),
        ("duplicates", r.duplicates, 0, verdict(r.duplicates == 0)),
        ("missed", r.missed, 0, verdict(r.missed == 0)),
        ("slots moved by an edit (paused over the slot)", r.moved, "", ""),
        ("dispatched as skipped: a manual trigger was active", r.skipped_overlap, "", ""),
        ("scheduled executions outside the window's batches", r.extra, "", ""),
        ("lateness p50 (ms)", ms(pct(r.lateness_ms, 50)), "", ""),
        ("lateness p99 (ms)", ms(p99), f"<= {2 * tick_ms:,.0f}", verdict(p99 <= 2 * tick_ms)),
        ("lateness max (ms)", ms(pct(r.lateness_ms, 100)), "", ""),
        (
            "lateness p99 by Batch.last_run_at, DB clock at claim (ms)",
            ms(pct(r.claim_lateness_ms, 99)),
            "",
            "",
        ),
        ("dispatcher tick errors", r.tick_errors, 0, verdict(r.tick_errors == 0)),
        (
            "dispatcher exit codes",
            ",".join(map(str, r.exit_codes)),
            "0",
            verdict(not any(r.exit_codes)),
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--dispatchers", type=int, default=2)
    parser.add_argument("--edits-per-second", type=float, default=1.0)
    parser.add_argument("--tick", type=float, default=1.0, help="run_dispatcher --interval")
    parser.add_argument(
        "--baseline",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also run django-celery-beat under the same load (about --seconds + 30 s)",
    )
    parser.add_argument("--baseline-tasks", type=int, help="PeriodicTasks (default: --batches)")
    args = parser.parse_args()
    eps = args.edits_per_second

    ours = run_ours(args.batches, args.seconds, args.dispatchers, eps, args.tick)
    print_table(
        f"dispatch lateness: {args.batches:,} batches due evenly over {args.seconds:g} s,"
        f" {args.dispatchers} x run_dispatcher --interval {args.tick:g}, {eps:g} edit/s;"
        f" lateness = Execution.created_at ({ours.clock}) - scheduled_for",
        ("figure", "value", "target / expected", "verdict"),
        ours_rows(ours, args.seconds),
    )
    if args.baseline:
        tasks = args.baseline_tasks or args.batches
        beat = run_beat(tasks, args.seconds, eps)
        print_table(
            f"baseline: django-celery-beat DatabaseScheduler (real beat loop, max interval"
            f" {beat.max_interval:g} s), {tasks:,} PeriodicTasks due evenly over"
            f" {args.seconds:g} s, {eps:g} edit/s; lateness = publish time - slot (same host"
            f" clock); stopped 10 s after the last slot",
            ("figure", "value", "target / expected", "verdict"),
            beat_rows(beat),
        )
    flush_broker()
    return 1 if ours.duplicates or ours.missed else 0


if __name__ == "__main__":
    sys.exit(main())
