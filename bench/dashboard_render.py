"""Every dashboard page rendered with 10,000 businesses and a week of history: p50/p95 per
page and its SQL queries, rendered in-process by Django's test Client logged in as staff
(the whole middleware stack, templates included; no network).

    python bench/dashboard_render.py --businesses 10000 --renders 30

Seeds, in its own database `<name>_bench_dashboard`: the businesses through
the import path (as bench/api_load.py), then every active batch's slots of the last 7 days
as executions (states, lateness, items, cost), one capacity sample a minute for 7 days and
a dispatcher heartbeat. A real Celery worker answers the queues page's broadcast (without
one, the page waits the 1 s broadcast timeout by design: `--no-worker` shows it).
Goal: p95 < 150 ms on every page.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from decimal import Decimal

os.environ["BENCH_DB_SUFFIX"] = "_dashboard"  # read by _common

from _common import (
    ROOT,
    Row,
    configure,
    flush_broker,
    print_table,
    recreate_database,
    setup_django,
    timed,
    verdict,
)
from api_load import seed as seed_businesses

GOAL_P95_MS = 150.0
HISTORY_DAYS = 7
STATES = (("succeeded", 90), ("failed", 6), ("skipped", 3), ("cancelled", 1))


def seed_history(rng: random.Random) -> dict[str, int]:
    """A week of executions (each active batch at its interval, the latest slot running),
    capacity samples, and the dispatcher's and beat's heartbeats."""
    from scheduler_project.dbclock import db_now
    from schedules.heartbeats import heartbeat_record
    from schedules.models import Batch, CapacitySample, Execution, Mapping
    from schedules.services.executions import team_counts_of

    now = db_now().replace(second=0, microsecond=0)
    snapshots: dict[int, list[dict]] = {}
    for row in Mapping.objects.values("batch_id", "business_id", "team_id", "platform_key"):
        snapshots.setdefault(row["batch_id"], []).append(
            {
                "business_id": row["business_id"],
                "team_id": row["team_id"],
                "key": row["platform_key"],
            }
        )
    states = [s for s, weight in STATES for _ in range(weight)]
    rows = []
    batches = Batch.objects.filter(status="active", business_count__gt=0).select_related("group")
    for batch in batches:
        step = timedelta(minutes=batch.group.interval_minutes)
        slot, oldest = now - timedelta(seconds=batch.stagger_offset_seconds % 3600), now
        oldest -= timedelta(days=HISTORY_DAYS)
        snapshot = snapshots.get(batch.id, [])
        while slot > oldest:
            state = states[rng.randrange(len(states))] if slot < now - step else "running"
            started = slot + timedelta(seconds=rng.lognormvariate(0, 1))
            finished = started + timedelta(minutes=rng.uniform(1, 20))
            ended = state in ("succeeded", "failed")
            rows.append(
                Execution(
                    batch=batch,
                    platform=batch.group.platform,
                    scrape_type=batch.group.scrape_type,
                    trigger="scheduled",
                    state=state,
                    scheduled_for=slot,
                    created_at=slot,
                    started_at=None if state == "skipped" else started,
                    finished_at=finished if ended else None,
                    duration_ms=int((finished - started).total_seconds() * 1000) if ended else None,
                    business_snapshot=snapshot,
                    business_count=len(snapshot),
                    team_counts=team_counts_of(snapshot),  # as a real start writes it
                    items_count=rng.randint(0, 40 * len(snapshot)) if ended else 0,
                    usage_usd=Decimal(f"{rng.uniform(0.001, 0.2):.6f}") if ended else None,
                    error="Apify run failed" if state == "failed" else "",
                )
            )
            slot -= step
    Execution.objects.bulk_create(rows, batch_size=2000)
    minutes = HISTORY_DAYS * 24 * 60
    CapacitySample.objects.bulk_create(
        (
            CapacitySample(
                at=now - timedelta(minutes=m),
                memory_mbytes_in_use=1024 * (runs := rng.randint(0, 16)),
                memory_mbytes_limit=32768,
                runs_in_use=runs,
                runs_limit=16,
                waiting_executions=max(0, rng.randint(-20, 10)),
                oldest_waiting_seconds=0,
            )
            for m in range(minutes)
        ),
        batch_size=5000,
    )
    heartbeat_record("dispatcher", claimed=0, created=0)
    heartbeat_record("beat")
    return {"executions": len(rows), "capacity samples": minutes, "batches": len(batches)}


def pages() -> list[tuple[str, str]]:
    """(label, path) of every page: the overview, the navigation's pages, one detail page of
    each kind, the charts' JSON; the ones not installed (no URL name) are left out."""
    from django.urls import NoReverseMatch, reverse

    from businesses.models import Business, Team
    from dashboard.urls import NAV
    from schedules.models import Batch, Execution

    found = [("overview", reverse("dashboard:overview"))]
    found += [(label.lower(), reverse(name)) for name, label in NAV if _exists(name)]
    details = {
        "schedule detail": ("dashboard:schedule", Batch.objects.order_by("id").first().id),
        "team detail": ("dashboard:team", Team.objects.order_by("team_id").first().team_id),
        "business detail": ("dashboard:business", Business.objects.order_by("id").first().id),
        "execution detail": (
            "dashboard:execution",
            Execution.objects.order_by("-created_at")[0].id,
        ),
    }
    for label, (name, key) in details.items():
        try:
            found.append((label, reverse(name, args=[key])))
        except NoReverseMatch:
            continue
    if _exists("dashboard:search"):
        found.append(("search", reverse("dashboard:search") + "?q=Business+42"))
    found += [
        ("charts data, 24 h", reverse("dashboard:charts-data") + "?range=24h"),
        ("charts data, 7 d", reverse("dashboard:charts-data") + "?range=7d"),
    ]
    return found


def _exists(name: str) -> bool:
    from django.urls import NoReverseMatch, reverse

    try:
        reverse(name)
    except NoReverseMatch:
        return False
    return True


def measure(renders: int) -> list[Row]:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user = get_user_model().objects.create_user("bench-operator", is_staff=True)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    rows: list[Row] = []
    for label, path in pages():
        for _ in range(2):  # warm: templates compiled, connection open
            client.get(path)
        with CaptureQueriesContext(connection) as ctx:
            status = client.get(path).status_code
        queries = len(ctx.captured_queries)  # now: the next request clears the log
        times = []
        for _ in range(renders):
            started = time.perf_counter()
            client.get(path)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        ok = status == 200 and p95 < GOAL_P95_MS
        rows.append(
            (label, statistics.median(times), p95, times[-1], queries, status,
             verdict(ok))
        )  # fmt: skip
    return rows


def start_worker() -> subprocess.Popen:
    """A Celery worker on the bench's broker and database, to answer the queues page."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_project", "worker", "--pool=solo",
         "-Q", "maintenance", "--without-gossip", "--without-mingle", "--loglevel=WARNING",
         "--hostname=bench-dashboard@%h"],
        cwd=ROOT, env=os.environ.copy(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    from monitoring.workers import workers_report

    deadline = time.monotonic() + 60
    while not workers_report().answering:
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the bench's Celery worker did not answer")
    return process


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--renders", type=int, default=30, help="timed renders per page")
    parser.add_argument("--no-worker", action="store_true", help="no Celery worker answers")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    configure()
    recreate_database()
    setup_django()
    flush_broker()
    with timed() as t:
        seed_businesses(args.businesses)
        seeded = seed_history(random.Random(args.seed))
    print(
        f"seeded {args.businesses:,} businesses, {seeded['batches']:,} active batches, "
        f"{seeded['executions']:,} executions over {HISTORY_DAYS} days and "
        f"{seeded['capacity samples']:,} capacity samples in {t.seconds:.1f} s"
    )
    worker = None if args.no_worker else start_worker()
    try:
        rows = measure(args.renders)
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=15)
    print_table(
        f"Dashboard pages rendered by Django's test Client as staff, {args.businesses:,} "
        f"businesses, {args.renders} renders each "
        f"({'no worker' if args.no_worker else 'one Celery worker answering'}); ms",
        ("page", "p50", "p95", "max", "SQL queries", "status", f"p95 < {GOAL_P95_MS:g} ms"),
        rows,
    )
    slowest = max(rows, key=lambda r: r[2])
    print_table(
        "Summary",
        ("figure", "value", "page"),
        [("slowest page p95 (ms)", slowest[2], slowest[0]),
         ("overview p95 (ms)", next(r[2] for r in rows if r[0] == "overview"), "overview"),
         ("pages over the goal", sum(1 for r in rows if r[-1] != "OK"), "")],
    )  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
