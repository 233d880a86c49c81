"""Product webhook deliveries (issue 16): sending throughput and latency, and what the outbox
costs an ingest.

    python bench/webhook_deliveries.py [--deliveries 10000] [--rate 500] [--steady-seconds 20]
        [--workers 2] [--concurrency 2] [--chunk N] [--send-concurrency N] [--per-tx 100]
        [--teams 25] [--verify-every 1] [--no-beat] [--log-level INFO]
        [--ingest-items 100000] [--ingest-businesses 500] [--ingest-rounds 3]

Sending, with real processes: `--workers` x `celery -A scheduler_project worker -Q notify`
(prefork, `--concurrency` each, the product's SCHEDULER_WEBHOOK_SEND_CHUNK and _CONCURRENCY
unless --chunk / --send-concurrency), a celery beat (its webhook tick is the safety net, as in
production) and the receiver, a separate asyncio HTTP/1.1 process on 127.0.0.1 that records
the wall-clock arrival of each `webhook-id`, verifies the signature of every `--verify-every`th
delivery with standardwebhooks and answers 200. `--teams` team-bound endpoints subscribe to
business.scraped through `endpoint_create` (SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS=true);
this process writes the deliveries with `events_publish`, `--per-tx` events per transaction
(one delivery each), as an ingest does, and each commit enqueues the send task.

Two phases: `backlog` publishes `--deliveries` back to back (all at once, as fast as this
process writes them): deliveries/s = the rows over first row created -> last arrival, the
sending capacity (goal >= 500/s). A backlog drains in order, so its latency is queueing
(the i-th waits about i / rate). `steady` publishes at `--rate` events/s for
`--steady-seconds` (the goal load): enqueue-to-delivery = arrival at the receiver - the row's
created_at (the database's clock, same machine), goal p99 < 2 s. Both must end with every
delivery succeeded, none received twice and no signature failing. CPU ms per delivery (from
/proc: the workers with their pools, the receiver, this process with its PostgreSQL backend)
says what the rates cost, and changes little with what else the machine runs; the rates do.

Ingest: bench/ingest.py's end-to-end `execution_ingest` of `--ingest-items` review items over
`--ingest-businesses` businesses (25 teams), alternately with no webhook endpoint (off) and
with one endpoint per team subscribed to business.scraped (on: the ingest's transaction
writes one delivery per succeeded business; nothing sends them meanwhile), `--ingest-rounds`
times each; the best of each mode, goal on / off >= 0.90. Items per CPU second (this process,
FakeApify's thread included, and its PostgreSQL backend) is the cross-check the machine's
load sways less.

Database `<name>_bench_notifications`, a Redis server of its own; about 3 minutes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

from chaos_support import stack as st

REDIS_PORT, RECEIVER_PORT = st.free_port(), st.free_port()
os.environ["BENCH_DB_SUFFIX"] = "_notifications"
os.environ["BENCH_REDIS_URL"] = f"redis://127.0.0.1:{REDIS_PORT}/0"

import _webhook_deliveries_support as ns  # noqa: E402
from _common import (  # noqa: E402
    configure,
    flush_broker,
    print_table,
    recreate_database,
    sql,
    timed,
    verdict,
)

TOKEN = "bench-token"
TARGET_RATE = 500  # deliveries/s
TARGET_P99 = 2.0  # s
TARGET_RATIO = 0.90  # ingest items/s on / off


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=10_000, help="backlog, at once")
    parser.add_argument("--rate", type=float, default=500.0, help="steady events/s")
    parser.add_argument("--steady-seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=2, help="celery worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each")
    parser.add_argument("--chunk", type=int, help="SCHEDULER_WEBHOOK_SEND_CHUNK")
    parser.add_argument("--send-concurrency", type=int, help="SCHEDULER_WEBHOOK_SEND_CONCURRENCY")
    parser.add_argument("--per-tx", type=int, default=100, help="events per transaction")
    parser.add_argument("--teams", type=int, default=25, help="one endpoint each")
    parser.add_argument("--verify-every", type=int, default=1, help="signature sample")
    parser.add_argument("--beat", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--log-level", default="INFO", help="of the children (product: INFO)")
    parser.add_argument("--timeout", type=float, default=120.0, help="per phase, to drain")
    parser.add_argument("--ingest-items", type=int, default=100_000)
    parser.add_argument("--ingest-businesses", type=int, default=500)
    parser.add_argument("--ingest-rounds", type=int, default=3, help="0: skip the ingest")
    parser.add_argument("--phases", default="backlog,steady", help="which (debugging)")
    return parser.parse_args()


def knobs(args: argparse.Namespace) -> dict[str, str]:
    """Settings of this process and of every child."""
    env = {"SCHEDULER_WEBHOOK_ALLOW_PRIVATE_URLS": "true"}
    if args.chunk:
        env["SCHEDULER_WEBHOOK_SEND_CHUNK"] = str(args.chunk)
    if args.send_concurrency:
        env["SCHEDULER_WEBHOOK_SEND_CONCURRENCY"] = str(args.send_concurrency)
    return env


# --- ingest, notifications off and on --------------------------------------------------------


class Ingest(NamedTuple):
    rate: float  # items/s
    cpu_rate: float  # items per CPU second of this process and its backend
    written: int  # deliveries
    publish: float  # seconds in events_publish


def ingest_compare(args: argparse.Namespace, fake) -> dict[str, list[Ingest]]:
    """{mode: [Ingest]}, the modes alternating, each ingest of fresh items into an empty
    (truncated, analyzed) review table as bench/ingest.py measures it. events_publish is
    timed by a wrapper (both modes)."""
    from ingest import finished_run, register, running_execution

    from notifications.models import WebhookEndpoint
    from notifications.services.endpoints import endpoint_delete
    from schedules.services import ingest as ingest_service

    publish, spent = ingest_service.events_publish, [0.0]

    def timed_publish(events: list) -> int:
        started = time.perf_counter()
        try:
            return publish(events)
        finally:
            spent[0] += time.perf_counter() - started

    ingest_service.events_publish = timed_publish
    snapshot = register(args.ingest_businesses)
    teams = sorted({s["team_id"] for s in snapshot})
    results: dict[str, list[Ingest]] = {"off": [], "on": []}
    for n in range(args.ingest_rounds):
        for mode in ("off", "on"):
            if mode == "on":
                ns.endpoints_create(teams, RECEIVER_PORT)
            run_id = finished_run(fake, snapshot, f"{mode}{n}", args.ingest_items)
            execution_id = running_execution(run_id, snapshot)
            sql("TRUNCATE businesses_reviewitem")
            sql("VACUUM ANALYZE businesses_reviewitem")
            before, spent[0] = sql("SELECT count(*) FROM notifications_delivery")[0][0], 0.0
            cpu = ns.own_cpu()
            with timed() as t:
                result = ingest_service.execution_ingest(execution_id=execution_id)
            cpu = ns.own_cpu() - cpu
            assert result is not None and result.state == "succeeded", result
            written = sql("SELECT count(*) FROM notifications_delivery")[0][0] - before
            count = args.ingest_items
            results[mode].append(Ingest(count / t.seconds, count / cpu, written, spent[0]))
            print(f"  ingest {mode}: {count / t.seconds:,.0f} items/s", flush=True)
            for endpoint in WebhookEndpoint.objects.all():
                endpoint_delete(endpoint=endpoint, actor="bench")
    ingest_service.events_publish = publish
    return results


def ingest_table(args: argparse.Namespace, results: dict) -> tuple[str, tuple, list[tuple]]:
    best = {mode: max(r.rate for r in runs) for mode, runs in results.items()}
    cpu = {mode: max(r.cpu_rate for r in runs) for mode, runs in results.items()}
    rows = [
        (
            f"ingest items/s, notifications {mode}",
            best[mode],
            " / ".join(f"{r.rate:,.0f}" for r in runs),
            cpu[mode],
            " / ".join(str(r.written) for r in runs),
            " / ".join(f"{r.publish * 1000:.0f}" for r in runs),
            "",
            "",
        )
        for mode, runs in results.items()
    ]
    ratio = best["on"] / best["off"]
    rows.append(("ingest items/s on / off", ratio, "", cpu["on"] / cpu["off"], "", "",
                 f">= {TARGET_RATIO:.2f}", verdict(ratio >= TARGET_RATIO)))  # fmt: skip
    title = (
        "ingest with notifications off (no endpoint) and on (one endpoint per team,"
        f" business.scraped): execution_ingest of {args.ingest_items:,} items over"
        f" {args.ingest_businesses:,} businesses, 25 teams; best of {args.ingest_rounds},"
        " modes alternating; CPU = this process (FakeApify's thread too) + its backend"
    )
    header = ("figure", "best", "each", "items per CPU s (best)", "deliveries written")
    return title, (*header, "events_publish (ms)", "goal"), rows


# --- sending ---------------------------------------------------------------------------------


def run_phase(args: argparse.Namespace, label: str, teams: list[str], stack) -> ns.Phase:
    steady = label == "steady"
    count = round(args.rate * args.steady_seconds) if steady else args.deliveries
    ns.receiver_call(RECEIVER_PORT, "reset")
    after = sql("SELECT coalesce(max(id), 0) FROM notifications_delivery")[0][0]
    print(f"\n{label}: {count:,} deliveries", flush=True)
    cpu = ns.cpu_snapshot(stack)
    published = ns.publish(teams, count, args.per_tx, args.rate if steady else None)
    done = ns.wait_done(RECEIVER_PORT, after, count, args.timeout)
    cpu = {part: seconds - cpu[part] for part, seconds in ns.cpu_snapshot(stack).items()}
    phase = ns.phase_figures(label, RECEIVER_PORT, after, published, done)
    phase.cpu = cpu
    print(f"  published in {published:.1f} s, drained: {done}", flush=True)
    return phase


def send_table(phases: list[ns.Phase]) -> list[tuple]:
    by = {p.label: p for p in phases}

    def goal(label: str, text: str, check) -> tuple[str, str]:
        return (f"{label}: {text}", verdict(check(by[label]))) if label in by else ("", "")

    def every(text: str, check) -> tuple[str, str]:
        return text, verdict(all(check(p) for p in phases))

    rows = [
        ("deliveries written", lambda p: p.rows, ("", "")),
        ("published in (s)", lambda p: p.publish_seconds, ("", "")),
        ("offered (deliveries/s)", lambda p: p.rows / p.publish_seconds, ("", "")),
        (
            "deliveries/s (first created -> last arrival)",
            lambda p: p.rate,
            goal("backlog", f">= {TARGET_RATE}", lambda p: p.rate >= TARGET_RATE),
        ),
        ("latency p50 (s)", lambda p: ns.pct(p.latencies, 50), ("", "")),
        (
            "latency p99 (s)",
            lambda p: ns.pct(p.latencies, 99),
            goal("steady", f"< {TARGET_P99:.2f}", lambda p: ns.pct(p.latencies, 99) < TARGET_P99),
        ),
        ("latency max (s)", lambda p: ns.pct(p.latencies, 100), ("", "")),
        ("received (unique webhook-id)", lambda p: p.unique,
         every("== written", lambda p: p.unique == p.rows)),
        ("duplicates received", lambda p: p.duplicates, every("== 0", lambda p: not p.duplicates)),
        ("signatures verified", lambda p: p.verified, ("", "")),
        ("signature failures", lambda p: p.failures, every("== 0", lambda p: not p.failures)),
        ("not succeeded at the end", lambda p: p.not_succeeded,
         every("== 0", lambda p: not p.not_succeeded and p.finished)),
        ("needed more than one attempt", lambda p: p.retried, ("", "")),
    ]  # fmt: skip
    for part in phases[0].cpu if phases else ():
        rows.append((f"CPU ms per delivery: {part}", lambda p, k=part: per(p, p.cpu[k]), ("", "")))
    return [(name, *(value(p) for p in phases), *check) for name, value, check in rows]


def per(phase: ns.Phase, seconds: float) -> float:
    return 1000 * seconds / phase.rows if phase.rows else float("nan")


def main() -> int:
    args = parse_args()
    os.environ.update(knobs(args))
    logs = Path(tempfile.mkdtemp(prefix="notifications-"))
    load = os.getloadavg()[0]
    print(
        f"notifications bench: backlog {args.deliveries:,}, steady {args.rate:g}/s for "
        f"{args.steady_seconds:g} s; {args.workers} workers x concurrency {args.concurrency}"
        f"{' + beat' if args.beat else ''}; {args.teams} endpoints; logs in {logs}",
        flush=True,
    )
    redis = ns.Stack(env=st.python_env(), logs=logs)
    redis.add(st.redis_spec(REDIS_PORT, logs))
    redis.start("redis")
    stack, ingest, phases = None, None, []
    try:
        st.wait_for_port(REDIS_PORT)
        configure()
        if args.ingest_rounds:
            from _dataset_server import RemoteFakeApify
            from ingest import review_items

            with RemoteFakeApify(TOKEN, review_items) as fake:
                os.environ["APIFY_API_URL"], os.environ["APIFY_TOKEN"] = fake.url, TOKEN
                recreate_database()
                ingest = ingest_compare(args, fake)
        recreate_database()
        flush_broker()
        from _common import DATABASE_URL, REDIS_URL

        env = {"DATABASE_URL": DATABASE_URL, "CELERY_BROKER_URL": REDIS_URL}
        env["LOG_LEVEL"] = args.log_level
        stack = ns.build_stack(env, logs, RECEIVER_PORT, args.verify_every, args)
        for name in stack.specs:
            stack.start(name)
        st.wait_for_port(RECEIVER_PORT)
        teams = [f"notify-team-{n}" for n in range(args.teams)]
        from businesses.services import team_upsert

        for team in teams:
            team_upsert(team_id=team, tier="professional")
        ns.receiver_call(RECEIVER_PORT, "secrets", ns.endpoints_create(teams, RECEIVER_PORT))
        ns.wait_ready(stack)
        time.sleep(1.0)  # the beat's first tick
        phases = [run_phase(args, label, teams, stack) for label in args.phases.split(",")]
        exits = {n: p.returncode for n, p in stack.processes.items() if p.poll() is not None}
    finally:
        if stack is not None:
            stack.stop()
        redis.stop()
    if ingest:
        title, header, rows = ingest_table(args, ingest)
        print_table(title, (*header, "verdict"), rows)
    from scheduler_project import conf

    knob = conf.get()
    table = send_table(phases)
    print_table(
        f"webhook deliveries: {args.teams} endpoints on a local receiver (separate process),"
        f" {args.workers} x celery worker -Q notify (concurrency {args.concurrency}; send chunk"
        f" {knob.webhook_send_chunk}, {knob.webhook_send_concurrency} threads); backlog ="
        f" {args.deliveries:,} published at once, steady = {args.rate:g}/s for"
        f" {args.steady_seconds:g} s; {args.per_tx} events per transaction",
        ("figure", *(p.label for p in phases), "goal", "verdict"),
        table,
    )
    for p in phases:
        for error in p.errors:
            print(f"  {p.label} signature failure: {error}")
    print(
        f"machine: {os.cpu_count()} CPUs, load average (1 min, ours included) {load:.1f} at"
        f" the start, {os.getloadavg()[0]:.1f} at the end"
    )
    if exits:
        print(f"processes that exited by themselves: {exits}")
    broken = exits or any(row[-1] == "FAIL" for row in table[7:])  # correctness, not speed
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
