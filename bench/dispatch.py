"""Dispatch throughput: N due batches claimed by 1..k separate dispatcher processes, with
exactly-once checks, Celery messages counted in Redis, and SQL queries per claim chunk.

    python bench/dispatch.py --batches 10000 --dispatchers 1,4 [--baseline-rate 30]
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import multiprocessing as mp
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from _common import (
    flush_broker,
    print_table,
    queue_length,
    queue_name,
    rate,
    recreate_database,
    redis_client,
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
    created: int
    executions: int
    batches_served: int
    duplicates: int
    still_due: int
    messages: int
    ids_in_messages: int
    ids_unique_and_exact: bool

    @property
    def per_s(self) -> float:
        return rate(self.claimed, self.seconds)

    @property
    def ok(self) -> bool:
        n = self.executions
        return (
            self.duplicates == 0
            and self.still_due == 0
            and self.batches_served == n
            and self.claimed == self.created == n
            and self.ids_unique_and_exact
        )


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


def reset(due: int) -> None:
    """No executions; the first `due` batches due one minute ago (DB clock), the rest later."""
    sql("DELETE FROM schedules_execution")
    sql("DELETE FROM schedules_heartbeat")
    sql(
        "UPDATE schedules_batch SET missed_runs_count = 0, last_run_at = NULL, next_run_at ="
        " CASE WHEN id IN (SELECT id FROM schedules_batch ORDER BY id LIMIT %s)"
        " THEN statement_timestamp() - interval '1 minute'"
        " ELSE statement_timestamp() + interval '1 day' END",
        (due,),
    )
    sql("VACUUM ANALYZE schedules_batch")
    sql("VACUUM ANALYZE schedules_execution")
    flush_broker()


def _dispatcher(barrier: Any, results: Any) -> None:
    """One dispatcher process: loop `dispatch_tick()` until a tick claims nothing."""
    setup_django()
    from django.db import connection

    from schedules.services.dispatch import dispatch_tick
    from schedules.tasks import executions_start

    connection.ensure_connection()
    with executions_start.app.producer_or_acquire():  # warm broker pool, as a live process
        pass
    barrier.wait()
    claimed = created = ticks = 0
    while True:
        result = dispatch_tick()
        ticks += 1
        claimed += result.claimed
        created += result.created
        if result.claimed == 0:
            break
    results.put((time.monotonic(), claimed, created, ticks))
    connection.close()


def start_ids_in_queue() -> list[str]:
    """Execution ids carried by the start messages waiting in the queue."""
    ids: list[str] = []
    for raw in redis_client().lrange(queue_name(), 0, -1):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        ids.extend(args[0])
    return ids


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
    db_ids = {str(r[0]) for r in sql("SELECT id FROM schedules_execution")}
    queued = start_ids_in_queue()
    return DispatchRun(
        dispatchers=dispatchers,
        seconds=max(o[0] for o in outcomes) - start,
        claimed=sum(o[1] for o in outcomes),
        created=sum(o[2] for o in outcomes),
        executions=sql("SELECT count(*) FROM schedules_execution")[0][0],
        batches_served=sql("SELECT count(DISTINCT batch_id) FROM schedules_execution")[0][0],
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
        ids_unique_and_exact=len(queued) == len(set(queued)) and set(queued) == db_ids,
    )


def measure_queries(sizes: list[int]) -> list[tuple[int, int, int, int, float]]:
    """(due, claimed, chunks, queries per tick, queries per non-empty chunk) per size."""
    from django.conf import settings
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from schedules.services.dispatch import dispatch_tick

    def one_tick(due: int) -> tuple[int, int, int]:
        reset(due)
        with CaptureQueriesContext(connection) as ctx:
            result = dispatch_tick()
        assert result.claimed == result.created == due, result
        return result.claimed, result.chunks, len(ctx.captured_queries)

    _, _, empty_tick = one_tick(0)
    rows = []
    for size in sizes:
        claimed, chunks, queries = one_tick(size)
        full_chunks = math.ceil(size / settings.SCHEDULER_CLAIM_CHUNK)
        rows.append((size, claimed, chunks, queries, (queries - empty_tick + 1) / full_chunks))
    rows.insert(0, (0, 0, 1, empty_tick, 0.0))
    return rows


def prepare(batches: int) -> None:
    recreate_database()
    flush_broker()
    create_batches(batches)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--dispatchers", default="1,4")
    parser.add_argument("--query-sizes", default="10,100,1000,10000")
    parser.add_argument(
        "--baseline-rate",
        type=float,
        default=None,
        help="django-celery-beat sends/s to compare with (beat_baseline.py)",
    )
    args = parser.parse_args()
    counts = [int(c) for c in args.dispatchers.split(",")]
    sizes = [s for s in (int(x) for x in args.query_sizes.split(",")) if s <= args.batches]

    prepare(args.batches)
    runs = [run_dispatchers(args.batches, n) for n in counts]
    from django.conf import settings

    rows: list[tuple[object, ...]] = []
    for r in runs:
        bare = BARE_CLAIM.get(r.dispatchers)
        rows += [
            (f"{r.dispatchers} proc: time to claim all (s)", r.seconds, "", ""),
            (
                f"{r.dispatchers} proc: batches/s",
                r.per_s,
                f">= {TARGET_PER_S:,}",
                verdict(r.per_s >= TARGET_PER_S),
            ),
            (
                f"{r.dispatchers} proc: vs bare psycopg claim",
                f"{r.per_s / bare:.0%}" if bare else "",
                f"{bare:,}/s" if bare else "",
                "",
            ),
            (
                f"{r.dispatchers} proc: executions written",
                r.executions,
                args.batches,
                verdict(r.executions == args.batches == r.batches_served),
            ),
            (
                f"{r.dispatchers} proc: duplicates per slot",
                r.duplicates,
                0,
                verdict(r.duplicates == 0),
            ),
            (f"{r.dispatchers} proc: batches still due", r.still_due, 0, verdict(r.still_due == 0)),
            (
                f"{r.dispatchers} proc: Celery messages in Redis",
                r.messages,
                f"{math.ceil(args.batches / settings.SCHEDULER_START_MESSAGE_SIZE):,}"
                f" (ids/{settings.SCHEDULER_START_MESSAGE_SIZE}, approx)",
                "",
            ),
            (
                f"{r.dispatchers} proc: execution ids in messages",
                r.ids_in_messages,
                "each once",
                verdict(r.ids_unique_and_exact),
            ),
        ]
        if args.baseline_rate:
            rows.append(
                (
                    f"{r.dispatchers} proc: ratio to beat ({args.baseline_rate:g}/s)",
                    f"{r.per_s / args.baseline_rate:,.0f}x",
                    "",
                    "",
                )
            )
    print_table(
        f"dispatch: {args.batches:,} due batches, claim chunk {settings.SCHEDULER_CLAIM_CHUNK},"
        f" {settings.SCHEDULER_START_MESSAGE_SIZE} executions per start message,"
        f" queue {queue_name()!r}",
        ("figure", "value", "target / expected", "verdict"),
        rows,
    )

    qrows = measure_queries(sizes)
    per_chunk = [r[4] for r in qrows[1:]]
    flat = bool(per_chunk) and max(per_chunk) - min(per_chunk) <= 1
    print_table(
        "SQL queries per dispatch_tick (in-process, CaptureQueriesContext)",
        ("due batches", "claimed", "chunks", "queries/tick", "queries/claim chunk"),
        qrows,
    )
    print(
        f"queries per claim chunk independent of N: {verdict(flat)}"
        " (first row: a tick with nothing due = lease recovery + empty claim + heartbeat)"
    )
    flush_broker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
