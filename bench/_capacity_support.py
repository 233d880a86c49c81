"""What bench/capacity.py needs besides its main: the stack of real processes, the peak's
batches, the watch loop (database + sandbox), the figures of one mode, and the cost table.

Imported after `_common.configure()` has pointed the project at the bench database.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import math
import subprocess
import sys
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _common import sql
from chaos_support import stack as st

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TEAM_ID = "capacity-bench"


def place_id(n: int, salt: str = "") -> str:
    """A valid Google place id (ChIJ + 23 url-safe characters), stable per n."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(f"{salt}{n}".encode()).digest()).decode()
    return "ChIJ" + digest[:23].replace("-", "a").replace("_", "b")


# --- the stack -------------------------------------------------------------------------------


def worker_spec(name: str, concurrency: int) -> st.Spec:
    """A worker as the README starts it (`celery -A scheduler_project worker`: every queue)."""
    return st.celery_spec(
        name,
        "worker",
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            f"--hostname={name}@%h",
        ],
    )


class Stack(st.Stack):
    """chaos_support's stack, its processes named `capacity-<name>` in pg_stat_activity (a
    chaos run terminates every `chaos-worker-%` connection, whatever its database)."""

    def start(self, name: str) -> None:
        log = (self.logs / f"{name}.log").open("a")
        self.processes[name] = subprocess.Popen(
            self.specs[name].argv,
            cwd=st.ROOT,
            env={**self.env, "PGAPPNAME": f"capacity-{name}"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def build_stack(
    env: dict[str, str], logs: Path, web_port: int, workers: int, concurrency: int, dispatchers: int
) -> st.Stack:
    stack = Stack(env=st.python_env(**env), logs=logs)
    stack.add(st.web_spec(web_port))
    stack.add(st.beat_spec("beat", logs))
    for n in range(dispatchers):
        stack.add(st.dispatcher_spec(f"dispatcher-{n + 1}", 1.0))
    for n in range(workers):
        stack.add(worker_spec(f"worker-{n + 1}", concurrency))
    return stack


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.25)


# --- the peak --------------------------------------------------------------------------------


def seed_batches(count: int) -> tuple[list[int], int]:
    """`count` one-business google batches through the registration service (the batch
    capacity set to 1 for it), none due yet. Returns the batch ids and the group interval."""
    from django.conf import settings
    from django.test import override_settings

    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
    from schedules.models import Batch
    from schedules.services.assignment import schedule_groups_init

    schedule_groups_init()
    team_upsert(team_id=TEAM_ID, tier="enterprise")
    with override_settings(SCHEDULER_CAPACITY={**settings.SCHEDULER_CAPACITY, "google": 1}):
        rows = [
            BusinessRow(team_id=TEAM_ID, platform="google", external_id=place_id(n, "peak"))
            for n in range(count)
        ]
        for start in range(0, count, 2000):
            businesses_bulk_register(rows=rows[start : start + 2000], scrape_types=["reviews"])
    batches = list(Batch.objects.filter(business_count__gt=0).select_related("group"))
    later = datetime.now(UTC) + timedelta(days=1)
    Batch.objects.update(next_run_at=later)
    return [b.pk for b in batches], batches[0].group.interval_minutes


def set_slots(ids: list[int], interval_minutes: int, lead: float, spread: float) -> datetime:
    """Slot i at base + floor(i × spread / n) s, base = the database clock + lead (whole
    seconds); each batch's stagger offset puts its grid on its slot. Returns base."""
    from scheduler_project.dbclock import db_now

    now = db_now()
    base = now.replace(microsecond=0) + timedelta(seconds=math.ceil(lead) + 1)
    slots = [base + timedelta(seconds=int(i * spread / len(ids))) for i in range(len(ids))]
    period = interval_minutes * 60
    offsets = [int((s - EPOCH).total_seconds()) % period for s in slots]
    sql(
        "UPDATE schedules_batch AS b SET next_run_at = v.slot, stagger_offset_seconds = v.stagger"
        " FROM unnest(%s::bigint[], %s::timestamptz[], %s::integer[]) AS v(id, slot, stagger)"
        " WHERE b.id = v.id",
        (ids, slots, offsets),
    )
    return base


@dataclass
class Watch:
    """Every poll: (monotonic time, executions waiting, our runs holding capacity and their
    memory: starting + running, as admission counts them); and whether the peak was over."""

    polls: list[tuple[float, int, int, int]] = field(default_factory=list)
    finished: bool = False
    seconds: float = 0.0


def scraped_count(ids: list[int]) -> int:
    """Due batches with a succeeded run (the slot's own or a retry of its business)."""
    return sql(
        "SELECT count(DISTINCT batch_id) FROM schedules_execution"
        " WHERE state = 'succeeded' AND batch_id = ANY(%s)",
        (ids,),
    )[0][0]


def watch(ids: list[int], base: datetime, limit: float, every: float = 0.2) -> Watch:
    """Poll until every due batch was scraped and nothing is active, or `limit` seconds
    after the first slot; progress every 10 s."""
    result = Watch()
    started = time.monotonic()
    wait_s = max(0.0, (base - datetime.now(UTC)).total_seconds())
    deadline = started + wait_s + limit
    last_note = started
    while (now := time.monotonic()) < deadline:
        waiting, active, held, memory = sql(
            "SELECT count(*) FILTER (WHERE state = 'pending'),"
            " count(*) FILTER (WHERE state IN ('pending', 'starting', 'running')),"
            " count(*) FILTER (WHERE state IN ('starting', 'running')),"
            " coalesce(sum(requested_memory_mbytes) FILTER (WHERE state IN ('starting',"
            " 'running')), 0) FROM schedules_execution"
        )[0]
        result.polls.append((now, waiting, held, int(memory)))
        if now - last_note >= 10:
            last_note = now
            print(
                f"  {now - started:5.0f} s: {scraped_count(ids)}/{len(ids)} scraped,"
                f" {waiting} waiting, {active} active",
                flush=True,
            )
        if active == 0 and now > started + wait_s + 2 and scraped_count(ids) == len(ids):
            result.finished = True
            break
        time.sleep(every)
    result.seconds = time.monotonic() - started
    return result


# --- the figures of one mode -----------------------------------------------------------------


@dataclass
class ModeResult:
    label: str
    refused: dict[str, int]
    peak_runs: int
    peak_memory: int
    full_share: float  # of the time work waited, the share the account was full
    used_share: float  # ... the mean share of the account's run slots in use
    ledger_share: float  # ... the share our own count (starting + running) was at the limit
    waited_seconds: float
    failed: int
    failed_capacity: int
    retry_entries: int
    executions: int
    runs_started: int
    scraped: int
    due: int
    lateness: list[float]  # seconds, slot → start of the run that scraped it
    release: list[float]  # seconds, the Apify run ended → its execution ended (ingested)
    drain: float | None  # seconds, first slot → last due batch scraped
    limit: float
    exits: dict[str, int]


def shares(samples: list, polls: list, runs_limit: int, memory_limit: int, run_memory: int):
    """Over the time executions waited (DB polls): the share the account had no room for
    one more run and the mean share of its run slots in use (sandbox samples, a step
    function), and the share our own count of runs holding capacity was at the limit
    (polls). Returns (account full, account used, ours full, seconds waited)."""
    times = [sample[0] for sample in samples]
    slots = min(runs_limit, memory_limit // run_memory)

    def full(runs: int, memory: int) -> bool:
        return runs >= runs_limit or memory + run_memory > memory_limit

    def between(a: float, b: float) -> tuple[float, float]:
        i, is_full, used, t = max(0, bisect_right(times, a) - 1), 0.0, 0.0, a
        while t < b:
            end = min(times[i + 1] if i + 1 < len(times) else math.inf, b)
            is_full += (end - t) * full(samples[i][2], samples[i][1])
            used += (end - t) * min(1.0, samples[i][2] / slots)
            t, i = end, i + 1
        return is_full, used

    waited = account = used = ours = 0.0
    for (t0, waiting, held, memory), (t1, *_) in itertools.pairwise(polls):
        if waiting > 0:
            waited += t1 - t0
            is_full, in_use = between(t0, t1)
            account, used = account + is_full, used + in_use
            ours += (t1 - t0) * full(held, memory)
    if not waited:
        return math.nan, math.nan, math.nan, 0.0
    return account / waited, used / waited, ours / waited, waited


def mode_figures(label: str, ids: list[int], base: datetime, sandbox, w: Watch, **kw) -> ModeResult:
    """Read the run's history from the database and the sandbox."""
    account, used, ours, waited = shares(
        sandbox.samples, w.polls, kw["runs_limit"], kw["memory_limit"], kw["run_memory"]
    )
    failed, failed_capacity, executions = sql(
        "SELECT count(*) FILTER (WHERE state = 'failed'),"
        " count(*) FILTER (WHERE state = 'failed' AND (error LIKE '%%402%%'"
        "  OR error ILIKE '%%limit-exceeded%%')), count(*) FROM schedules_execution"
    )[0]
    first = sql(
        "SELECT DISTINCT ON (e.batch_id) e.batch_id, e.started_at, e.finished_at, b.slot"
        " FROM schedules_execution e JOIN (SELECT batch_id, scheduled_for AS slot"
        "  FROM schedules_execution WHERE trigger = 'scheduled') b ON b.batch_id = e.batch_id"
        " WHERE e.state = 'succeeded' AND e.batch_id = ANY(%s)"
        " ORDER BY e.batch_id, e.finished_at",
        (ids,),
    )
    runs = {r.id: r.finished_at for r in list(sandbox.runs.values()) if r.finished_at}
    ended = sql(
        "SELECT apify_run_id, finished_at FROM schedules_execution"
        " WHERE apify_run_id = ANY(%s) AND finished_at IS NOT NULL",
        (list(runs),),
    )
    last_done = max((finished for _, _, finished, _ in first), default=None)
    return ModeResult(
        label=label,
        refused=dict(sandbox.refused),
        peak_runs=sandbox.peak_runs,
        peak_memory=sandbox.peak_memory_mbytes,
        full_share=account,
        used_share=used,
        ledger_share=ours,
        waited_seconds=waited,
        failed=failed,
        failed_capacity=failed_capacity,
        retry_entries=sql("SELECT count(*) FROM retry_retryentry")[0][0],
        executions=executions,
        runs_started=len(sandbox.runs),
        scraped=len(first),
        due=len(ids),
        lateness=[(started - slot).total_seconds() for _, started, _, slot in first],
        release=[(done - runs[run_id]).total_seconds() for run_id, done in ended],
        drain=(last_done - base).total_seconds() if len(first) == len(ids) else None,
        limit=kw["limit"],
        exits=kw["exits"],
    )


def pct(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def tail_logs(logs: Path, lines: int = 15) -> None:
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()
        errors = [x for x in text if "Traceback" in x or "ERROR" in x]
        if errors:
            print(f"--- {log.name}: {len(errors)} error line(s), last:", file=sys.stderr)
            print("\n".join(errors[-lines:]), file=sys.stderr)
