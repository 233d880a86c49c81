"""Chaos run: dispatch and callbacks on real processes while a driver breaks them.

    python bench/chaos.py                 # long form: ~10,000 due slots over 10 minutes
    python bench/chaos.py --short         # short form (.ci/run, through tests/integration)
    python bench/chaos.py --short --failover --pgbouncer   # short form with the failover

A PostgreSQL cluster and a Redis server of the run's own, the Apify sandbox (runs finish after
2 s and call the webhook back), gunicorn for the webhook, 2 Celery beats whose dispatch ticks
run on the workers, 2 `run_dispatcher` loops and 3 workers; with `--pgbouncer`, the stack
reaches PostgreSQL through a PgBouncer in transaction mode. Compressed timeline: a cron group
`* * * * *` whose batches are staggered across the minute, so every batch is due every minute.
Meanwhile the driver SIGKILLs a random dispatcher, beat or worker every 10-30 s (it comes back
1-3 s later), terminates the dispatchers' database connections, blacks out every dispatcher
at once, kills and restarts Redis once, and restarts PostgreSQL (`pg_ctl restart -m fast`;
the long form also `-m immediate`, a crash). With `--failover` (the long form's default), a
streaming standby follows the primary; at 75 % of the timeline the primary is stopped
abruptly, the standby promoted, and the pooler (PgBouncer, or a TCP proxy of the run's own)
switched to it; the standby is synchronous unless `--no-sync-standby`, and `--standby-lag 5`
freezes it 5 s first (the loss an asynchronous standby allows, which the checker reports).
With `--skew 30` (default), half the beats, dispatchers and workers run 30 s ahead and the
others 30 s behind (an LD_PRELOAD shim on the wall clock). The timeline begins once every
worker and beat is up. Then batches are paused, the stack drains, and the checker reads the
history.

Exit status 1 on any broken invariant: a slot executed twice, a slot never run, a slot run
before its time or later than 2 ticks (from the comeback, for slots a blackout or a database
restart or the failover held up), dispatch not back within 2 ticks of the database's return
(after a failover: the promoted standby answering through the switched pooler), an execution
left unfinished, items lost or doubled, a callback answered 202 that is not in the database or
was never processed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from chaos_support import stack as st

if TYPE_CHECKING:
    from tests.pgbouncer import PgBouncer

WORKDIR = Path(tempfile.mkdtemp(prefix="chaos-"))
REDIS_PORT, WEB_PORT, PG_PORT = st.free_port(), st.free_port(), st.free_port()
TOKEN, SECRET = "chaos-token", "chaos-webhook-secret-of-at-least-32-chars"
# A PostgreSQL cluster of the run's own (restarted mid-run), the bench database in it.
os.environ["BENCH_BASE_DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{PG_PORT}/scheduler"
os.environ["BENCH_DB_SUFFIX"] = "_chaos"
os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"

from _common import (  # noqa: E402 (the names above must be set first)
    DATABASE_URL,
    REDIS_URL,
    print_table,
    recreate_database,
    sql,
)
from chaos_support import failover as fo  # noqa: E402
from chaos_support.checks import Verdict, check_history  # noqa: E402
from chaos_support.driver import Driver, wait_until_ready  # noqa: E402
from chaos_support.postgres import OwnPostgres  # noqa: E402
from chaos_support.proxy import SwitchableProxy  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="the CI form: 300 batches, 150 s")
    parser.add_argument("--batches", type=int, default=1000, help="each is due once a minute")
    parser.add_argument("--seconds", type=int, default=600, help="length of the timeline")
    parser.add_argument("--tick", type=float, default=1.0, help="dispatch tick (seconds)")
    parser.add_argument("--skew", type=float, default=30.0, help="± wall-clock skew, 0: none")
    parser.add_argument("--fault-every", default="10,30", help="min,max seconds between faults")
    parser.add_argument("--blackout", type=float, default=8.0, help="all dispatchers down (s)")
    parser.add_argument("--drain", type=int, default=600, help="max seconds to drain")
    parser.add_argument("--seed", type=int, default=20261202)
    parser.add_argument(
        "--db-restarts",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="restart PostgreSQL mid-run: -m fast (short form); and -m immediate (long form)",
    )
    parser.add_argument(
        "--pgbouncer",
        action="store_true",
        help="the stack reaches PostgreSQL through a PgBouncer of the run's own (transaction mode)",
    )
    parser.add_argument(
        "--failover",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="lose the primary at 75 %% and promote its streaming standby (default: long form)",
    )
    parser.add_argument(
        "--sync-standby",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the standby is synchronous (synchronous_standby_names = '*'), as recommended",
    )
    parser.add_argument(
        "--standby-lag",
        type=float,
        default=0.0,
        help="freeze the standby's WAL receiver this long before the failover (shows a loss)",
    )
    args = parser.parse_args()
    if args.short:
        args.batches, args.seconds = 300, 150
    if args.failover is None:
        args.failover = not args.short
    return args


def settings_env(args: argparse.Namespace, sandbox_url: str) -> dict[str, str]:
    """The same settings for the harness and every process it starts."""
    return {
        "DJANGO_SETTINGS_MODULE": "scheduler_project.settings",
        "DATABASE_URL": DATABASE_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "APIFY_API_URL": sandbox_url,
        "APIFY_TOKEN": TOKEN,
        "APIFY_WEBHOOK_SECRET": SECRET,
        "SECRET_KEY": "chaos-secret-key-that-is-not-the-development-default",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "WEBHOOK_BASE_URL": f"http://127.0.0.1:{WEB_PORT}",
        "DISPATCH_TICK_SECONDS": str(max(1, round(args.tick))),
        "SCHEDULER_LEASE_SECONDS": "10",
        "SCHEDULER_RUN_TIMEOUT_SECONDS": "30",
        "SCHEDULER_RUN_GRACE_SECONDS": "10",
        "SCHEDULER_RECONCILE_TICK_SECONDS": "5",
        "SCHEDULER_WEBHOOK_REQUEUE_SECONDS": "10",
        # Small datasets: two cores run the whole stack, and ingest volume is bench/ingest.py's.
        "SCHEDULER_MAX_REVIEWS_PER_BUSINESS": "5",
        "CELERY_VISIBILITY_TIMEOUT": "30",
        "LOG_LEVEL": "INFO",
    }


def build_stack(args: argparse.Namespace, env: dict[str, str], queues: str) -> st.Stack:
    shim = st.build_skew_shim(WORKDIR) if args.skew else None
    stack = st.Stack(env=st.python_env(**env), logs=WORKDIR, shim=shim)
    ahead, behind = args.skew, -args.skew
    stack.add(st.redis_spec(REDIS_PORT, WORKDIR))
    stack.add(st.web_spec(WEB_PORT))
    stack.add(st.beat_spec("beat-1", WORKDIR, ahead))
    stack.add(st.beat_spec("beat-2", WORKDIR, behind))
    stack.add(st.dispatcher_spec("dispatcher-1", args.tick, ahead))
    stack.add(st.dispatcher_spec("dispatcher-2", args.tick, behind))
    stack.add(st.worker_spec("worker-1", queues, ahead))
    stack.add(st.worker_spec("worker-2", queues, behind))
    stack.add(st.worker_spec("worker-3", queues))
    return stack


def seed(batches: int) -> tuple[int, datetime]:
    """A team, a `* * * * *` google group and `batches` one-business batches staggered over
    the minute; the first slots come 3 s from now (database clock)."""
    from businesses.models import Business, Team
    from scheduler_project.dbclock import db_now
    from schedules.models import Batch, Mapping, ScheduleGroup
    from schedules.policies import first_slot_at_or_after

    team = Team.objects.create(team_id="chaos", tier="enterprise")
    group = ScheduleGroup.objects.create(
        platform="google", scrape_type="reviews", interval_minutes=15, cron_expression="* * * * *"
    )
    start = db_now() + timedelta(seconds=3)
    rows = []
    for index in range(batches):
        batch = Batch(group=group, batch_index=index, capacity=200, business_count=1)
        batch.stagger_offset_seconds = index * 60 // batches
        batch.next_run_at = first_slot_at_or_after(batch.grid(), start)
        rows.append(batch)
    Batch.objects.bulk_create(rows, batch_size=1000)
    places = [f"ChIJchaos{index:07d}" for index in range(batches)]
    businesses = Business.objects.bulk_create(
        [
            Business(
                team=team,
                platform="google",
                external_id=p,
                platform_key=p,
                scrape_types=["reviews"],
            )
            for p in places
        ],
        batch_size=1000,
    )
    Mapping.objects.bulk_create(
        [
            Mapping(
                business=b,
                batch=batch,
                scrape_type="reviews",
                team=team,
                platform_key=b.platform_key,
            )
            for b, batch in zip(businesses, rows, strict=True)
        ],
        batch_size=1000,
    )
    return group.id, start


def start_pooler() -> PgBouncer:
    from tests import pgbouncer  # importable once configure() put the project on the path

    bouncer = pgbouncer.start(DATABASE_URL)
    if bouncer is None:
        raise SystemExit("--pgbouncer: no pgbouncer binary (apt-get install pgbouncer)")
    return bouncer


def pooled(bouncer: PgBouncer) -> dict[str, str]:
    """The stack's settings through the pooler; the harness itself connects directly."""
    return {
        "DATABASE_URL": bouncer.url_for(DATABASE_URL),
        "DATABASE_TRANSACTION_POOLING": "true",
    }


def pause_batches(group_id: int) -> datetime:
    """Stop the timeline: pause every batch; returns the database moment it happened."""
    return sql(
        "UPDATE schedules_batch SET status = 'paused' WHERE group_id = %s "
        "RETURNING statement_timestamp()",
        [group_id],
    )[0][0]


def drain(seconds: int) -> int:
    """Wait until no execution is active and every callback was processed."""
    deadline = time.monotonic() + seconds
    left = -1
    while time.monotonic() < deadline:
        active, unprocessed = sql(
            "SELECT (SELECT count(*) FROM schedules_execution "
            "        WHERE state IN ('pending', 'starting', 'running')), "
            "       (SELECT count(*) FROM webhooks_webhookevent WHERE status = 'received')"
        )[0]
        left = active + unprocessed
        if left == 0:
            return 0
        print(f"  draining: {active} executions active, {unprocessed} callbacks unprocessed")
        time.sleep(10)
    return left


def main() -> int:
    args = parse_args()
    extra = fo.primary_settings(args.sync_standby) if args.failover else {}
    postgres = OwnPostgres(WORKDIR, PG_PORT, extra=extra)
    postgres.init()
    postgres.start()
    standby = None
    try:
        if args.failover:
            standby = fo.make_standby(postgres, st.free_port(), args.sync_standby)
        return run(args, (postgres, standby))
    finally:
        for server in (postgres, standby):
            if server is not None and server.running():
                server.stop()


def run(args: argparse.Namespace, servers: tuple[OwnPostgres, OwnPostgres | None]) -> int:
    from apify_sandbox.server import Sandbox

    sandbox = Sandbox(TOKEN, delay=2.0, seed=args.seed).start()
    env = settings_env(args, sandbox.url)
    os.environ.update(env)
    recreate_database()
    from django.conf import settings

    from schedules.services.system_schedules import system_schedules_sync

    system_schedules_sync()
    bouncer = start_pooler() if args.pgbouncer else None
    # Without PgBouncer, the failover needs an address of its own to move: the proxy's.
    proxy = SwitchableProxy(PG_PORT).start() if args.failover and bouncer is None else None
    stack_env = env if bouncer is None else {**env, **pooled(bouncer)}
    if proxy is not None:
        stack_env = {**env, "DATABASE_URL": proxy.url_for(DATABASE_URL)}
    stack = build_stack(args, stack_env, settings.ALL_QUEUES)
    failover = fo.through_pooler(
        servers, bouncer or proxy, DATABASE_URL, args.sync_standby, args.standby_lag
    )
    driver = Driver(stack, args, REDIS_PORT, servers[0] if args.db_restarts else None, failover)
    print(
        f"chaos run: {args.batches} batches, {args.seconds} s, tick {args.tick} s, "
        f"skew ±{args.skew} s; logs in {WORKDIR}",
        flush=True,
    )
    try:
        group_id, first_slot, paused_at = timeline(args, stack, driver)
    finally:
        stack.stop()
        sandbox.stop()
        for pooler in (bouncer, proxy):
            if pooler is not None:
                pooler.stop()
    verdict = check_history(
        group_id=group_id,
        first_slot=first_slot,
        last_slot=paused_at - timedelta(seconds=2 * args.tick),
        tick_seconds=args.tick,
        blackouts=driver.blackouts,
        outages=driver.outages,
        sandbox_runs=dict(sandbox.runs),
        deliveries=list(sandbox.deliveries),
    )
    reached = (
        "through PgBouncer (transaction pooling)"
        if bouncer
        else "through a switchable TCP proxy"
        if proxy
        else "directly"
    )
    return report(args, verdict, driver, stack, servers, reached)


def timeline(args: argparse.Namespace, stack: st.Stack, driver: Driver) -> tuple:
    """Start the stack, seed, break things for the timeline, pause and drain; returns the
    group, its first slot and the database moment of the pause."""
    stack.start("redis")
    st.wait_for_port(REDIS_PORT)
    for name in stack.names("web", "beat", "dispatcher", "worker"):
        stack.start(name)
    st.wait_for_port(WEB_PORT)
    ready = wait_until_ready(stack)
    time.sleep(3)  # workers and beats connect
    group_id, first_slot = seed(args.batches)
    driver.started = time.monotonic()
    driver.note(f"stack ready after {ready:.1f} s; timeline begins")
    driver.run(args.seconds)
    paused_at = pause_batches(group_id)
    driver.note("timeline over: batches paused, draining")
    left = drain(args.drain)
    driver.note(f"drained ({left} still active)")
    return group_id, first_slot, paused_at


def report(
    args: argparse.Namespace,
    verdict: Verdict,
    driver: Driver,
    stack: st.Stack,
    servers: tuple[OwnPostgres, OwnPostgres | None],
    reached: str,
) -> int:
    """Print the faults and the checker's figures; 1 on any broken invariant."""
    exited = ", ".join(f"{n} ×{c}" for n, c in sorted(stack.restarts.items())) or "none"
    faults: dict[str, object] = {
        **driver.counts,
        "processes that exited by themselves": exited,
        "database reached": reached,
    }
    if servers[1] is not None:
        faults["standby"] = "synchronous" if args.sync_standby else "asynchronous"
        if args.standby_lag:
            faults["standby frozen before the failover (s)"] = args.standby_lag
    if driver.failover_seconds is not None:
        promoted, through = driver.failover_seconds
        faults["failover: standby promoted / answering through the pooler (s)"] = (
            f"{promoted:.2f} / {through:.2f}"
        )
    print_table("Faults injected", ["fault", "count"], list(faults.items()))
    rows = [(k, str(v) if isinstance(v, dict) else v) for k, v in verdict.figures.items()]
    print_table("Chaos run: invariants and figures", ["figure", "value"], rows)
    if verdict.violations:
        print(stack.tail())
        for server in (s for s in servers if s is not None):
            print(f"--- {server.logfile.name}\n{server.log_tail()}")
        # Last, so a caller that keeps only the end of the output still reads what broke.
        print("\nVIOLATED:")
        for violation in verdict.violations:
            print(f"  - {violation}")
        return 1
    print("\nAll invariants held.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
