"""Dispatch throughput: N due batches claimed by 1..k separate dispatcher processes, with
exactly-once checks, Celery messages counted in Redis, and SQL queries per claim chunk.

    python bench/dispatch.py --batches 10000 --dispatchers 1,4 [--baseline-rate 30]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from _common import (
    Row,
    flush_broker,
    print_table,
    queue_length,
    queued_messages,
    rate,
    recreate_database,
    setup_django,
    sql,
    verdict,
)

TARGET_PER_S = 2_000
BARE_CLAIM = {1: 19_000, 4: 28_600}  # BASELINES.md, rows/s of a bare psycopg claim


@dataclass
class DispatchRun:
    dispatchers: int
    seconds: float
    claimed: int
    executions: int
    duplicates: int
    still_due: int
    messages: int
    ids_in_messages: int
    exactly_once: bool  # every batch one execution, every execution id in one message

    @property
    def per_s(self) -> float:
        return rate(self.claimed, self.seconds)


def create_batches(count: int) -> None:
    from businesses.platforms import get_platform
    from schedules.models import Batch, ScheduleGroup
    from schedules.services.assignment import schedule_groups_init

    schedule_groups_init()
    groups = list(ScheduleGroup.objects.order_by("id"))
    Batch.objects.bulk_create(
        [
            Batch(
                group=g,
                batch_index=i // len(groups),
                capacity=get_platform(g.platform).capacity,
                business_count=0,
                next_run_at=datetime(2000, 1, 1, tzinfo=UTC),
            )
            for i in range(count)
            for g in [groups[i % len(groups)]]
        ],
        batch_size=2000,
    )


def reset(due: int) -> None:  # no executions; `due` batches due 1 min ago (DB clock)
    sql("DELETE FROM schedules_execution")
    sql("DELETE FROM schedules_heartbeat")
    sql(
        "UPDATE schedules_batch SET missed_runs_count = 0, last_run_at = NULL, next_run_at ="
        " CASE WHEN id IN (SELECT id FROM schedules_batch ORDER BY id LIMIT %s)"
        " THEN statement_timestamp() - interval '1 minute'"
        " ELSE statement_timestamp() + interval '1 day' END",
        (due,),
    )
    sql("VACUUM ANALYZE schedules_batch, schedules_execution")
    flush_broker()


def _dispatcher(barrier: Any, results: Any) -> None:
    setup_django()
    from django.db import connection

    from schedules.services.dispatch import dispatch_tick
    from schedules.tasks import executions_start

    connection.ensure_connection()
    with executions_start.app.producer_or_acquire():  # warm broker pool, as a live process
        pass
    barrier.wait()
    claimed = created = 0
    while True:
        result = dispatch_tick()
        claimed += result.claimed
        created += result.created
        if result.claimed == 0:
            break
    results.put((time.monotonic(), claimed, created))
    connection.close()


def run_dispatchers(batches: int, dispatchers: int) -> DispatchRun:
    reset(batches)
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(dispatchers + 1)
    results = ctx.Queue()
    procs = [ctx.Process(target=_dispatcher, args=(barrier, results)) for _ in range(dispatchers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)
    start = time.monotonic()
    outcomes = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"dispatcher process exited with {p.exitcode}")
    executions = dict(sql("SELECT id::text, batch_id FROM schedules_execution"))
    queued = [i for _, args in queued_messages() for i in args[0]]
    claimed = sum(o[1] for o in outcomes)
    return DispatchRun(
        dispatchers=dispatchers,
        seconds=max(o[0] for o in outcomes) - start,
        claimed=claimed,
        executions=len(executions),
        duplicates=sql(
            "SELECT count(*) FROM (SELECT 1 FROM schedules_execution"
            " GROUP BY batch_id, scheduled_for HAVING count(*) > 1) d"
        )[0][0],
        still_due=sql(
            "SELECT count(*) FROM schedules_batch WHERE status = 'active'"
            " AND next_run_at <= statement_timestamp()"
        )[0][0],
        messages=queue_length(),
        ids_in_messages=len(queued),
        exactly_once=claimed == sum(o[2] for o in outcomes) == len(executions) == batches
        and len(set(executions.values())) == batches
        and len(queued) == len(set(queued))
        and set(queued) == set(executions),
    )


TX_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE SAVEPOINT")


def measure_queries(sizes: list[int]) -> list[Row]:
    """Per size: tick totals, then each non-empty chunk captured on its own (min/max)."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from schedules.services.dispatch import dispatch_chunk, dispatch_tick

    def captured(fn: Callable[[], Any]) -> tuple[Any, int, int]:
        with CaptureQueriesContext(connection) as ctx:
            out = fn()
        queries = sum(not q["sql"].startswith(TX_CONTROL) for q in ctx.captured_queries)
        return out, len(ctx.captured_queries), queries

    rows: list[Row] = []
    for size in [0, *sizes]:
        reset(size)
        result, statements, queries = captured(dispatch_tick)
        assert result.claimed == result.created == size, result
        reset(size)
        per_chunk: list[int] = []
        while (one := captured(lambda: dispatch_chunk(limit=settings.SCHEDULER_CLAIM_CHUNK)))[
            0
        ].claimed:
            per_chunk.append(one[2])
        low, high = (min(per_chunk), max(per_chunk)) if per_chunk else ("-", "-")
        rows.append((size, result.claimed, result.chunks, statements, queries, low, high))
    return rows


def dispatch_rows(runs: list[DispatchRun], batches: int, baseline: float | None) -> list[Row]:
    from django.conf import settings

    size = settings.SCHEDULER_START_MESSAGE_SIZE
    rows: list[Row] = []
    for r in runs:
        p, bare = f"{r.dispatchers} proc:", BARE_CLAIM.get(r.dispatchers, 0)
        share = f"{r.per_s / bare:.0%} of {bare:,}/s" if bare else ""
        rows += [
            (f"{p} time to claim all (s)", r.seconds, "", ""),
            (f"{p} batches/s", r.per_s, f">= {TARGET_PER_S:,}", verdict(r.per_s >= TARGET_PER_S)),
            (f"{p} vs bare psycopg claim", share, "BASELINES.md", ""),
            (f"{p} executions written", r.executions, batches, verdict(r.executions == batches)),
            (f"{p} duplicates per slot", r.duplicates, 0, verdict(r.duplicates == 0)),
            (f"{p} batches still due", r.still_due, 0, verdict(r.still_due == 0)),
            (f"{p} Celery messages in Redis", r.messages, f"~{-(-batches // size):,}", ""),
            (f"{p} ids in messages", r.ids_in_messages, "each once", verdict(r.exactly_once)),
        ]
        if baseline:
            ratio = f"{r.per_s / baseline:,.0f}x"
            rows.append((f"{p} ours / beat ({baseline:,.0f}/s)", ratio, "", ""))
    return rows


def measure(batches: int, counts: list[int]) -> list[DispatchRun]:
    recreate_database()
    flush_broker()
    create_batches(batches)
    return [run_dispatchers(batches, n) for n in counts]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--dispatchers", default="1,4")
    parser.add_argument("--query-sizes", default="10,100,1000,10000")
    parser.add_argument("--baseline-rate", type=float, help="beat sends/s (beat_baseline.py)")
    args = parser.parse_args()
    sizes = [s for s in (int(x) for x in args.query_sizes.split(",")) if s <= args.batches]

    runs = measure(args.batches, [int(c) for c in args.dispatchers.split(",")])
    from django.conf import settings

    chunk, size = settings.SCHEDULER_CLAIM_CHUNK, settings.SCHEDULER_START_MESSAGE_SIZE
    print_table(
        f"dispatch: {args.batches:,} due batches, claim chunk {chunk},"
        f" {size} executions per start message, queue 'start'",
        ("figure", "value", "target / expected", "verdict"),
        dispatch_rows(runs, args.batches, args.baseline_rate),
    )
    qrows = measure_queries(sizes)
    flat = len({(r[5], r[6]) for r in qrows[1:]}) == 1 and qrows[1][5] == qrows[1][6]
    print_table(
        "SQL per dispatch_tick, in-process (CaptureQueriesContext); queries exclude"
        " BEGIN/COMMIT/SAVEPOINT; row 0 = lease recovery + empty claim + heartbeat",
        ("due", "claimed", "chunks", "statements/tick", "queries/tick", "min/chunk", "max/chunk"),
        qrows,
    )
    print(f"queries per non-empty claim chunk independent of N: {verdict(flat)}")
    flush_broker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
