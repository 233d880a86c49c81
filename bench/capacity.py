"""Account capacity under a peak (issue 15): the same peak twice, with admission and without.

    python bench/capacity.py [--batches 500] [--run-seconds 3] [--runs-limit 32]
        [--memory-gbytes 32] [--run-memory-mbytes 2048] [--spread 0] [--limit-seconds 150]
        [--workers 2] [--concurrency 4] [--dispatchers 1] [--no-cost]

The Apify sandbox (in this process) plays a small account: `--runs-limit` concurrent runs and
`--memory-gbytes` of run memory, each run requesting `--run-memory-mbytes` and finishing after
`--run-seconds`, its webhook POSTed to gunicorn. `--batches` one-business google batches fall
due together (or over `--spread` s). Real processes: gunicorn, a Celery beat (dispatch tick 1 s,
retry queue, account refresh), `--dispatchers` x `manage.py run_dispatcher --interval 1` and
`--workers` x `celery -A scheduler_project worker` (every queue). The peak runs once with
admission (the default) and once with SCHEDULER_CAPACITY_ADMISSION=false, bounded by
`--limit-seconds` after the first slot. Database `<name>_bench_capacity` (bench/_common.py),
a Redis server of its own.

While executions wait (`pending` in the database): used = the mean share of the account's
run slots in use, full = the share of time it had no room for one more run (sandbox samples).
Without admission a 402 fails the start and sends its business to the retry queue, as before
issue 15; retries are shortened (delays in whole minutes, 0 = at the next retry tick).
Drain = first slot → the last due batch has a succeeded run (its slot's or a retry's);
ideal drain = batches x run seconds / concurrent slots.
Then, unless --no-cost: Apify runs per day and place requests for 10,000 businesses (the real
assignment) against one schedule per business.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

from chaos_support import stack as st

# A Redis server of its own (as bench/chaos.py): a shared one has its dbs taken by test runs.
REDIS_PORT, WEB_PORT = st.free_port(), st.free_port()
os.environ["BENCH_DB_SUFFIX"] = "_capacity"
os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"

import _capacity_support as cs  # noqa: E402
from _common import flush_broker, print_table, recreate_database, sql, verdict  # noqa: E402

TOKEN = "capacity-bench-token"
SECRET = "capacity-bench-webhook-secret-of-at-least-32-chars"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=500, help="due in the peak")
    parser.add_argument("--run-seconds", type=float, default=3.0, help="each run lasts")
    parser.add_argument("--runs-limit", type=int, default=32, help="account's concurrent runs")
    parser.add_argument("--memory-gbytes", type=float, default=32.0, help="account's memory")
    parser.add_argument("--run-memory-mbytes", type=int, default=2048, help="per run")
    parser.add_argument("--spread", type=float, default=0.0, help="slots spread over (s)")
    parser.add_argument("--limit-seconds", type=float, default=150.0, help="per mode")
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=4, help="pool size of each")
    parser.add_argument("--dispatchers", type=int, default=1, help="run_dispatcher loops")
    parser.add_argument("--retry-tick", type=int, default=2, help="retry queue tick (s)")
    parser.add_argument("--retry-delays", default="0", help="retry delays (whole minutes)")
    parser.add_argument("--cost-businesses", type=int, default=10_000)
    parser.add_argument("--cost", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--modes", default="with,without", help="which runs (debugging)")
    parser.add_argument("--seed", type=int, default=15)
    return parser.parse_args()


def knobs(args: argparse.Namespace) -> dict[str, str]:
    """Settings of this process (the periodic tasks it syncs) and of every child."""
    return {
        "APIFY_TOKEN": TOKEN,
        "APIFY_WEBHOOK_SECRET": SECRET,
        "SECRET_KEY": "capacity-bench-secret-key-not-the-development-default",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
        "DISPATCH_TICK_SECONDS": "1",
        "SCHEDULER_RETRY_TICK_SECONDS": str(args.retry_tick),
        "SCHEDULER_RETRY_DELAYS_MINUTES": args.retry_delays,
        "SCHEDULER_CAPACITY_REFRESH_SECONDS": "5",
        "SCHEDULER_RECONCILE_TICK_SECONDS": "10",
    }


def child_env(args: argparse.Namespace, sandbox_url: str, admission: bool) -> dict[str, str]:
    from _common import DATABASE_URL, REDIS_URL

    return {
        **knobs(args),
        "DJANGO_SETTINGS_MODULE": "scheduler_project.settings",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "APIFY_API_URL": sandbox_url,
        "SCHEDULER_CAPACITY_ADMISSION": "true" if admission else "false",
        "SCHEDULER_RUN_MEMORY": f"google.reviews={args.run_memory_mbytes}",
        "SCHEDULER_MAX_REVIEWS_PER_BUSINESS": "5",  # small datasets: ingest is not measured here
        "LOG_LEVEL": "INFO",
    }


def run_mode(args: argparse.Namespace, admission: bool, logs: Path) -> cs.ModeResult:
    from apify_sandbox.server import Sandbox

    label = "with admission" if admission else "without"
    memory_limit = int(args.memory_gbytes * 1024)
    sandbox = Sandbox(
        TOKEN,
        delay=args.run_seconds,
        seed=args.seed,
        max_memory_mbytes=memory_limit,
        max_concurrent_runs=args.runs_limit,
    ).start()
    env = child_env(args, sandbox.url, admission)
    recreate_database()
    flush_broker()
    ids, interval = cs.seed_batches(args.batches)
    logs = logs / label.replace(" ", "-")
    logs.mkdir()
    stack = cs.build_stack(env, logs, WEB_PORT, args.workers, args.concurrency, args.dispatchers)
    print(f"\n{label}: {len(ids)} batches; logs in {logs}", flush=True)
    try:
        for name in stack.specs:
            stack.start(name)
        st.wait_for_port(WEB_PORT, timeout=60)
        cs.wait_for(
            lambda: bool(
                sql("SELECT 1 FROM schedules_apifyaccount WHERE refreshed_at IS NOT NULL")
            ),
            90,
            "the first read of the account's limits",
        )
        base = cs.set_slots(ids, interval, lead=2.0, spread=args.spread)
        watched = cs.watch(ids, base, args.limit_seconds)
        exits = {n: p.returncode for n, p in stack.processes.items() if p.poll() is not None}
    finally:
        stack.stop()
    result = cs.mode_figures(
        label,
        ids,
        base,
        sandbox,
        watched,
        runs_limit=args.runs_limit,
        memory_limit=memory_limit,
        run_memory=args.run_memory_mbytes,
        limit=args.limit_seconds,
        exits=exits,
    )
    sandbox.stop()
    cs.tail_logs(logs)
    return result


def slots(args: argparse.Namespace) -> int:
    return min(args.runs_limit, int(args.memory_gbytes * 1024) // args.run_memory_mbytes)


def when(args: argparse.Namespace) -> str:
    return f"over {args.spread:g} s" if args.spread else "at once"


def peak_table(args: argparse.Namespace, modes: list) -> list[tuple]:
    from _capacity_support import pct

    ideal = args.batches * args.run_seconds / slots(args)
    memory_limit = int(args.memory_gbytes * 1024)

    def shown(value: float) -> object:
        return "n/a" if value is None or math.isnan(value) else value

    def drain(r) -> object:
        return r.drain if r.drain is not None else f"> {r.limit:g} ({r.due - r.scraped} left)"

    def refused(r, kind: str) -> int:
        return r.refused.get(f"{kind}-limit-exceeded", 0)

    rows = [
        ("starts refused (402)", "== 0", lambda r: sum(r.refused.values()),
         lambda r: sum(r.refused.values()) == 0),
        ("  of which memory / concurrent runs", "",
         lambda r: f"{refused(r, 'actor-memory')} / {refused(r, 'concurrent-runs')}", None),
        ("executions failed", "", lambda r: r.failed, None),
        ("executions failed by capacity (402)", "== 0", lambda r: r.failed_capacity,
         lambda r: r.failed_capacity == 0),
        ("retry entries created", "", lambda r: r.retry_entries, None),
        ("executions created / Apify runs started", "",
         lambda r: f"{r.executions} / {r.runs_started}", None),
        ("highest concurrent runs", f"<= {args.runs_limit}", lambda r: r.peak_runs,
         lambda r: r.peak_runs <= args.runs_limit),
        ("highest run memory (MB)", f"<= {memory_limit}", lambda r: r.peak_memory,
         lambda r: r.peak_memory <= memory_limit),
        ("account used while work waited (% of slots)", ">= 95",
         lambda r: shown(100 * r.used_share), lambda r: r.used_share >= 0.95),
        ("account full while work waited (% of time)", "",
         lambda r: shown(100 * r.full_share), None),
        ("  our count (starting+running) at the limit (%)", "",
         lambda r: shown(100 * r.ledger_share), None),
        ("  time work waited (s)", "", lambda r: r.waited_seconds, None),
        ("  Apify run ended -> execution ended p50 (s)", "",
         lambda r: shown(pct(r.release, 50)), None),
        ("  Apify run ended -> execution ended p99 (s)", "",
         lambda r: shown(pct(r.release, 99)), None),
        ("lateness slot -> run start p50 (s)", "", lambda r: shown(pct(r.lateness, 50)), None),
        ("lateness slot -> run start p99 (s)", "", lambda r: shown(pct(r.lateness, 99)), None),
        ("lateness slot -> run start max (s)", "", lambda r: shown(pct(r.lateness, 100)), None),
        ("due batches scraped", f"== {args.batches}", lambda r: r.scraped,
         lambda r: r.scraped == r.due),
        ("drain: every due batch scraped (s)", "", drain, None),
        ("ideal drain: runs x duration / slots (s)", "", lambda r: ideal, None),
        ("drain / ideal", "<= 1.10", lambda r: shown(r.drain and r.drain / ideal),
         lambda r: r.drain is not None and r.drain <= 1.1 * ideal),
        ("processes that exited by themselves", "none",
         lambda r: ", ".join(f"{n}={c}" for n, c in r.exits.items()) or "none",
         lambda r: not r.exits),
    ]  # fmt: skip
    first = modes[0] if modes[0].label == "with admission" else None
    return [
        (name, *(value(r) for r in modes), goal, verdict(check(first)) if check and first else "")
        for name, goal, value, check in rows
    ]


# --- cost: runs per day and place requests, 10,000 businesses ----------------------------------


TIERS = ("free", "starter", "professional", "enterprise")


def cost_rows(businesses: int, teams: int, shared_share: float, seed: int) -> tuple[str, list]:
    """Register `businesses` (4 platforms, `teams` teams over the tiers, a share of the
    places tracked by two teams) through the bulk service, then count what the batches send
    against one schedule per business."""
    from django.conf import settings

    from businesses.platforms import PLATFORMS, get_platform
    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
    from scheduler_project import conf
    from schedules.services.assignment import schedule_groups_init

    rng = random.Random(seed)
    assert not settings.SCHEDULER_CAPACITY, "the registry's batch capacities, not overrides"
    schedule_groups_init()
    team_ids = [f"cost-team-{n:04d}" for n in range(teams)]
    for n, team in enumerate(team_ids):
        team_upsert(team_id=team, tier=TIERS[n % len(TIERS)])
    places = round(businesses / (1 + shared_share))
    shared = businesses - places
    platforms = list(PLATFORMS)
    rows = []
    for n in range(places):
        platform, owner = platforms[n % len(platforms)], n % teams
        external = external_id(platform, n)
        rows.append(BusinessRow(team_id=team_ids[owner], platform=platform, external_id=external))
        if n < shared:  # the same place, tracked by a second team
            other = (owner + rng.randrange(1, teams)) % teams
            rows.append(
                BusinessRow(team_id=team_ids[other], platform=platform, external_id=external)
            )
    started = time.perf_counter()
    for start in range(0, len(rows), 5000):
        businesses_bulk_register(rows=rows[start : start + 5000], scrape_types=["reviews"])
    seconds = time.perf_counter() - started
    per_batch = sql(
        "SELECT g.interval_minutes, count(*), count(DISTINCT m.platform_key)"
        " FROM schedules_mapping m JOIN schedules_batch b ON b.id = m.batch_id"
        " JOIN schedules_schedulegroup g ON g.id = b.group_id GROUP BY b.id, g.interval_minutes"
    )
    unique = sql("SELECT count(DISTINCT (platform, platform_key)) FROM businesses_business")[0][0]
    ours_runs = sum(1440 / minutes for minutes, _, _ in per_batch)
    ours_places = sum(1440 / minutes * keys for minutes, _, keys in per_batch)
    each_runs = sum(1440 / minutes * n for minutes, n, _ in per_batch)
    sent_once = sum(n - keys for _, n, keys in per_batch)
    cap = conf.get().max_reviews_per_business
    capacities = ", ".join(f"{p} {get_platform(p).capacity}" for p in platforms)
    title = (
        f"cost: {len(rows):,} businesses (reviews), {teams} teams over the tiers "
        f"{conf.get().tier_intervals} min, {unique:,} places of which {shared:,} tracked by two "
        f"teams; batch capacity {capacities}; {len(per_batch):,} batches from "
        f"businesses_bulk_register in {seconds:.1f} s"
    )
    table = [
        ("Apify runs per day", ours_runs, each_runs, f"1/{each_runs / ours_runs:,.0f}x"),
        ("places sent per day", ours_places, each_runs, f"{ours_places / each_runs:.3f}x"),
        (
            "places sent per unique place per day",
            ours_places / unique,
            each_runs / unique,
            f"{ours_places / each_runs:.3f}x",
        ),
        (
            f"reviews requested per unique place per day (maxReviews {cap})",
            cap * ours_places / unique,
            cap * each_runs / unique,
            f"{ours_places / each_runs:.3f}x",
        ),
        ("shared places sent once (same batch as their twin)", sent_once, 0, f"of {shared:,}"),
    ]
    return title, table


def external_id(platform: str, n: int) -> str:
    if platform == "google":
        return cs.place_id(n, "cost")
    if platform == "facebook":
        return f"https://www.facebook.com/page-{n}"
    if platform == "tripadvisor":
        return f"https://www.tripadvisor.com/Hotel_Review-g1-d{n}-Reviews-Name.html"
    return f"https://www.booking.com/hotel/fr/hotel-{n}.html"


def main() -> int:
    args = parse_args()
    os.environ.update(knobs(args))
    logs = Path(tempfile.mkdtemp(prefix="capacity-"))
    print(
        f"capacity bench: {args.batches} batches due {when(args)}, "
        f"runs of {args.run_seconds:g} s at {args.run_memory_mbytes} MB; account "
        f"{args.runs_limit} runs / {args.memory_gbytes:g} GB = {slots(args)} slots; "
        f"{args.workers} workers x concurrency {args.concurrency}, beat + {args.dispatchers} "
        f"run_dispatcher; retry tick {args.retry_tick} s, delays {args.retry_delays} min; "
        f"limit {args.limit_seconds:g} s per mode",
        flush=True,
    )
    redis = st.Stack(env=st.python_env(), logs=logs)
    redis.add(st.redis_spec(REDIS_PORT, logs))
    redis.start("redis")
    try:
        st.wait_for_port(REDIS_PORT)
        modes = [run_mode(args, m == "with", logs) for m in args.modes.split(",")]
    finally:
        redis.stop()
    print_table(
        f"account capacity: {args.batches} one-business batches due {when(args)}, runs of "
        f"{args.run_seconds:g} s at {args.run_memory_mbytes} MB, account {args.runs_limit} "
        f"runs / {args.memory_gbytes:g} GB ({slots(args)} slots); without = "
        "SCHEDULER_CAPACITY_ADMISSION=false",
        ("figure", *(m.label for m in modes), "goal (with)", "with: verdict"),
        peak_table(args, modes),
    )
    if args.cost:
        recreate_database()
        title, rows = cost_rows(args.cost_businesses, 200, 0.05, args.seed)
        print_table(title, ("figure", "batches", "one schedule per business", "ratio"), rows)
    hard = modes[0]
    broken = hard.label == "with admission" and (
        sum(hard.refused.values())
        or hard.failed_capacity
        or hard.peak_runs > args.runs_limit
        or hard.peak_memory > int(args.memory_gbytes * 1024)
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
