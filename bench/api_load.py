"""The schedule list and the business list under gunicorn, with 10,000 businesses present,
driven by wrk from a second process: requests/s and latency percentiles.

    python bench/api_load.py --businesses 10000 --seconds 15 --connections 16

Needs `wrk` (Debian: apt-get install -y wrk). Only 127.0.0.1 is targeted.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys

from _common import (
    REDIS_URL,
    Row,
    configure,
    print_table,
    recreate_database,
    setup_django,
    sql,
    timed,
    verdict,
)
from _http import free_port, gunicorn, parse_wrk

TEAMS = 10
CEILING = "ceiling: /healthz (no auth, no SQL)"
GOAL_RPS, GOAL_P99_MS = 800, 40.0
ENDPOINTS = {
    CEILING: ("/healthz", "product"),
    "admin schedule list (50/page)": ("/api/v1/admin/schedules/?limit=50", "admin"),
    "admin schedule list, filtered": ("/api/v1/admin/schedules/?platform=google&limit=50", "admin"),
    "product business list (50/page)": ("/api/v1/teams/bench-0/businesses/?limit=50", "product"),
    "product business list, filtered": (
        "/api/v1/teams/bench-0/businesses/?platform=google&active=true&limit=50",
        "product",
    ),
    "product business list, page 10": (
        "/api/v1/teams/bench-0/businesses/?limit=50&offset=450",
        "product",
    ),
}


def seed(count: int) -> dict[str, str]:
    """`count` businesses over 10 teams and 4 platforms, through the import path; API keys."""
    from access.services import api_key_create
    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
    from schedules.services.assignment import schedule_groups_init

    schedule_groups_init()
    tiers = ["free", "starter", "professional", "enterprise"]
    rows = []
    for n in range(count):
        team = f"bench-{n % TEAMS}"
        if n < TEAMS:
            team_upsert(team_id=team, tier=tiers[n % 4])
        platform = ("google", "facebook", "tripadvisor", "booking")[n % 4]
        external = {
            "google": f"ChIJbench{n:018d}",
            "facebook": f"https://www.facebook.com/bench-page-{n}",
            "tripadvisor": f"https://www.tripadvisor.com/Hotel_Review-g1-d{n + 1}-Reviews-B.html",
            "booking": f"https://www.booking.com/hotel/fr/bench-{n}.html",
        }[platform]
        rows.append(BusinessRow(team, platform, external, f"Business {n}"))
    for start in range(0, len(rows), 5000):
        businesses_bulk_register(rows=rows[start : start + 5000])
    return {
        "admin": api_key_create(name="bench-admin", is_admin=True)[1],
        "product": api_key_create(name="bench-product")[1],
    }


def queries_per_request(keys: dict[str, str]) -> dict[str, tuple[int, list[str]]]:
    """Per endpoint: its SQL statements, and the tables any of them reads by a sequential
    scan (EXPLAIN of each statement the request ran; small lookup tables excepted)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    found = {}
    for label, (path, kind) in ENDPOINTS.items():
        client = Client(HTTP_AUTHORIZATION=f"Api-Key {keys[kind]}", HTTP_HOST="127.0.0.1")
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(path).status_code == 200, path
        scans = set()
        with connection.cursor() as cursor:
            for query in ctx.captured_queries:
                if not query["sql"].startswith("SELECT"):
                    continue
                cursor.execute("EXPLAIN " + query["sql"])
                for (line,) in cursor.fetchall():
                    if "Seq Scan on " in line:
                        scans.add(line.split("Seq Scan on ")[1].split()[0])
        found[label] = (len(ctx.captured_queries), sorted(scans - SMALL_TABLES))
    return found


# Tables of a few hundred rows at most: a sequential scan is the right plan there.
SMALL_TABLES = {"schedules_schedulegroup", "schedules_batch", "businesses_team", "admin_ui_apikey"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--businesses", type=int, default=10_000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--config", default="sync:4", help="gunicorn sync:<n> or gthread:<n>x<t>")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 2
    configure()
    recreate_database()
    setup_django()
    with timed() as t:
        keys = seed(args.businesses)
    print(f"seeded {args.businesses:,} businesses over {TEAMS} teams in {t.seconds:.1f} s")
    # Every business scraped once (its list rows carry an outcome), then what autovacuum does
    # after a bulk load (PostgreSQL 13+ vacuums insert-only tables too): plans on real row
    # counts, and index-only counts on a visibility map that is set.
    sql(
        "INSERT INTO businesses_scrapeoutcome"
        " (business_id, scrape_type, last_scraped_at, last_status, last_error)"
        " SELECT id, 'reviews', now(), 'succeeded', '' FROM businesses_business"
    )
    sql("VACUUM ANALYZE")
    queries = queries_per_request(keys)

    rows: list[Row] = []
    commands = []
    ceiling = 0.0
    # As deployed, the product API's rate limit counting in Redis (CACHE_URL), shared by the
    # workers; a rate this load never reaches, so every request is served and counted.
    server_env = {"CONN_MAX_AGE": "60", "CACHE_URL": REDIS_URL, "PRODUCT_API_RATE": "10000000/min"}
    with gunicorn(args.config, free_port(), server_env) as base:
        for label, (path, kind) in ENDPOINTS.items():
            cmd = [
                "wrk",
                "-t",
                "2",
                "-c",
                str(args.connections),
                "-d",
                f"{args.seconds}s",
                "--timeout",
                "5s",
                "--latency",
                "-H",
                f"Authorization: Api-Key {keys[kind]}",
                base + path,
            ]
            subprocess.run([*cmd[:6], "2s", *cmd[7:]], check=True, capture_output=True)  # warm
            out = subprocess.run(
                cmd, check=True, capture_output=True, text=True, timeout=args.seconds + 30
            )
            r = parse_wrk(out.stdout)
            ceiling = ceiling or r.rps  # measured first, in the same server
            goal = r.non_2xx == 0 and (
                label == CEILING or (r.rps >= GOAL_RPS and r.p99 <= GOAL_P99_MS)
            )
            rows.append(
                (
                    label,
                    r.rps,
                    f"{r.rps / ceiling:.2f}",
                    r.p50,
                    r.p99,
                    r.requests,
                    r.non_2xx,
                    queries[label][0],
                    ", ".join(queries[label][1]) or "none",
                    verdict(goal),
                )
            )
            commands.append(" ".join(cmd).replace(keys[kind], "<key>"))
    print_table(
        f"API list endpoints under gunicorn {args.config} (CONN_MAX_AGE=60, CACHE_URL on Redis),"
        f" {args.businesses:,}"
        f" businesses, wrk {args.connections} connections x {args.seconds} s; latency in ms",
        (
            "endpoint",
            "req/s",
            "of ceiling",
            "p50",
            "p99",
            "requests",
            "non-2xx",
            "SQL/request",
            "seq scans",
            f">= {GOAL_RPS} req/s, p99 <= {GOAL_P99_MS:g} ms, all 2xx",
        ),
        rows,
    )
    print("\nload generator commands:")
    for command in commands:
        print("  " + command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
