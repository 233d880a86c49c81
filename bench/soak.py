"""Soak: the whole stack for a long while at a realistic rate, faults off, sampled every minute.

    python bench/soak.py                          # long form: 60 min, a sample a minute
    python bench/soak.py --minutes 5              # short form (tests/integration/test_soak.py)

The chaos run's processes (bench/chaos_support/stack.py), laid out as docker-compose.yml lays
them out: a Redis server of the run's own, gunicorn (2 workers) for the webhook and API, the
beat, a `run_dispatcher` loop and four Celery workers, one per queue group (dispatch +
maintenance + notify + scheduler; start; ingest; retry); the Apify sandbox runs in this process
(runs finish after 2 s and POST their webhook, no failures). The database is the bench database
derived from DATABASE_URL (`<name>_bench_soak`).

The rate: 3,000 businesses (the size of a mid-sized product) in 60 batches of 50 on a
`* * * * *` google group, staggered one second apart, so one execution is due every second and
each dispatch tick (2 s) starts executions. That is 3,600 actor runs and up to 900,000 review
items an hour: every workflow (dispatch, start, callback, ingest, reconcile) runs all the time,
while two cores keep up with room to spare, so that growth, not saturation, is what shows.

Every sample records, per process group (a process with its children): RSS, open descriptors
and sockets; PostgreSQL sessions on the database (pg_stat_activity); the depth of every Celery
queue (LLEN) and the unacked messages; the scheduled executions started since the previous
sample and their lateness (created_at - scheduled_for). Verdicts are defined in
bench/_soak_report.py; exit status 0 only if every one holds, the violations printed last.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

from chaos_support import stack as st

WORKDIR = Path(tempfile.mkdtemp(prefix="soak-"))
REDIS_PORT, WEB_PORT = st.free_port(), st.free_port()
TOKEN, SECRET = "soak-token", "soak-webhook-secret-of-at-least-32-chars"
os.environ["BENCH_DB_SUFFIX"] = "_soak"
os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"

from _common import DATABASE_URL, REDIS_URL, recreate_database  # noqa: E402 (names set first)
from _soak_report import judge, print_samples, print_verdict  # noqa: E402
from _soak_sampling import Sample, pct, take_sample  # noqa: E402

APP_PREFIX = "chaos-"  # Stack.start names each process's sessions chaos-<name>
BUSINESSES, BATCHES = 3000, 60
# (name, queues, concurrency): docker-compose.yml's worker groups, sized for two cores.
WORKERS = [
    ("w-dispatch", "dispatch,maintenance,notify,scheduler", 2),
    ("w-start", "start", 3),
    ("w-ingest", "ingest", 2),
    ("w-retry", "retry", 1),
]
GROUPS = ["beat", "disp", *[w[0] for w in WORKERS], "web", "redis", "harness"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="length of the run")
    parser.add_argument("--sample-seconds", type=float, default=60.0, help="between samples")
    parser.add_argument("--tick", type=int, default=2, help="dispatch tick (seconds)")
    parser.add_argument("--seed", type=int, default=20261204)
    return parser.parse_args()


def settings_env(tick: int, sandbox_url: str) -> dict[str, str]:
    """The same settings for the harness and every process it starts; timeouts stay the
    project's defaults (a soak is about steady running, not recovery)."""
    return {
        "DJANGO_SETTINGS_MODULE": "scheduler_project.settings",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "APIFY_API_URL": sandbox_url,
        "APIFY_TOKEN": TOKEN,
        "APIFY_WEBHOOK_SECRET": SECRET,
        "SECRET_KEY": "soak-secret-key-that-is-not-the-development-default",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
        "DISPATCH_TICK_SECONDS": str(tick),
        "SCHEDULER_MAX_REVIEWS_PER_BUSINESS": "5",
        "LOG_LEVEL": "WARNING",
    }


def build_stack(env: dict[str, str], tick: int) -> st.Stack:
    stack = st.Stack(env=st.python_env(**env), logs=WORKDIR)
    stack.add(st.redis_spec(REDIS_PORT, WORKDIR))
    stack.add(st.web_spec(WEB_PORT))
    stack.add(st.beat_spec("beat", WORKDIR))
    stack.add(st.dispatcher_spec("disp", tick))
    for name, queues, concurrency in WORKERS:
        stack.add(st.worker_spec(name, queues, concurrency=concurrency))
    return stack


def seed(start_in_s: float = 5.0) -> tuple[int, datetime]:
    """Ten teams, BUSINESSES google businesses in BATCHES batches of a `* * * * *` group,
    staggered evenly over the minute; the first slot `start_in_s` from now (database clock)."""
    from businesses.models import Business, Team
    from scheduler_project.dbclock import db_now
    from schedules.models import Batch, Mapping, ScheduleGroup
    from schedules.policies import first_slot_at_or_after

    teams = Team.objects.bulk_create(
        [Team(team_id=f"soak-{n}", tier="enterprise") for n in range(10)]
    )
    group = ScheduleGroup.objects.create(
        platform="google", scrape_type="reviews", interval_minutes=15, cron_expression="* * * * *"
    )
    start, per_batch = db_now() + timedelta(seconds=start_in_s), BUSINESSES // BATCHES
    batches = []
    for index in range(BATCHES):
        batch = Batch(group=group, batch_index=index, capacity=200, business_count=per_batch)
        batch.stagger_offset_seconds = index * 60 // BATCHES
        batch.next_run_at = first_slot_at_or_after(batch.grid(), start)
        batches.append(batch)
    Batch.objects.bulk_create(batches)
    businesses = Business.objects.bulk_create(
        [
            Business(
                team=teams[n % len(teams)],
                platform="google",
                external_id=f"ChIJsoak{n:07d}",
                platform_key=f"ChIJsoak{n:07d}",
                scrape_types=["reviews"],
            )
            for n in range(BUSINESSES)
        ],
        batch_size=1000,
    )
    Mapping.objects.bulk_create(
        [
            Mapping(
                business=b,
                batch=batches[n // per_batch],
                scrape_type="reviews",
                team=b.team,
                platform_key=b.platform_key,
            )
            for n, b in enumerate(businesses)
        ],
        batch_size=1000,
    )
    return group.id, start


def progress(sample: Sample) -> None:
    late = pct(sample.lateness_s, 99)
    print(
        f"  [{sample.elapsed_s / 60:5.1f} min] started {sample.started}, active {sample.active}, "
        f"queued {sum(sample.queues.values())}, pg sessions {sample.pg_total}, "
        f"lateness p99 {late:.2f} s",
        flush=True,
    )


def soak(stack: st.Stack, minutes: float, every_s: float) -> tuple[list[Sample], list[str]]:
    """Sample every `every_s` until the end; returns the samples and the processes that exited
    (a soak restarts nothing: an exit is a finding)."""
    leaders = {name: process.pid for name, process in stack.processes.items()}
    began, samples, exited = time.monotonic(), [], []
    count = max(1, round(minutes * 60 / every_s))
    for k in range(1, count + 1):
        time.sleep(max(0.0, began + k * every_s - time.monotonic()))
        samples.append(
            take_sample(
                time.monotonic() - began, samples[-1] if samples else None, leaders, APP_PREFIX
            )
        )
        progress(samples[-1])
        for name, process in stack.processes.items():
            if process.poll() is not None and name not in exited:
                exited.append(name)
                print(f"  {name} exited with status {process.returncode}", flush=True)
    return samples, exited


def run(args: argparse.Namespace) -> int:
    from apify_sandbox.server import Sandbox

    sandbox = Sandbox(TOKEN, delay=2.0, seed=args.seed, max_monthly_usage_usd=10.0**9).start()
    env = settings_env(args.tick, sandbox.url)
    os.environ.update(env)
    recreate_database()
    from schedules.services.system_schedules import system_schedules_sync

    system_schedules_sync()
    stack = build_stack(env, args.tick)
    print(
        f"soak: {BUSINESSES:,} businesses in {BATCHES} batches due every minute, "
        f"{args.minutes:g} min, a sample every {args.sample_seconds:g} s, tick {args.tick} s; "
        f"logs in {WORKDIR}",
        flush=True,
    )
    try:
        stack.start("redis")
        st.wait_for_port(REDIS_PORT)
        for name in stack.names("web", "beat", "dispatcher", "worker"):
            stack.start(name)
        st.wait_for_port(WEB_PORT)
        _, first_slot = seed()
        samples, exited = soak(stack, args.minutes, args.sample_seconds)
    finally:
        stack.stop(kinds=("web", "beat", "dispatcher", "worker"))
        stack.stop()  # Redis last: workers ack their last messages on the way out
        sandbox.stop()
    print_samples(samples, GROUPS)
    verdict = judge(
        samples,
        GROUPS[:-1],
        duration_s=args.minutes * 60,
        slots=(first_slot, samples[-1].db_moment - timedelta(seconds=2 * args.tick)),
        tick_s=args.tick,
        exited=exited,
    )
    if verdict.violations:
        print(stack.tail())
    print_verdict(verdict)
    return 1 if verdict.violations else 0


if __name__ == "__main__":
    sys.exit(run(parse_args()))
