"""Bulk registration throughput: teams, standard groups, then N businesses through
`businesses_bulk_register` in chunks (the import path), and an exactness check of every batch;
beside it, the ceiling: a raw COPY of the same rows (businesses, batches, mappings, every
column) into the same tables of a fresh database, measured in the same run.

    python bench/assign.py --businesses 100000 [--teams 1000] [--chunk 5000]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys

from _common import ceiling, copy_ceiling, print_table, rate, recreate_database, sql, timed, verdict

TARGET_PER_S = 10_000
# What the bulk path writes, parents first (the rows its ceiling COPYs), and what it finds.
WRITTEN = ("schedules_batch", "businesses_business", "schedules_mapping")
GIVEN = ("businesses_team", "schedules_schedulegroup")
TIERS = ("free", "starter", "professional", "enterprise")
PLATFORMS = ("google", "facebook", "tripadvisor", "booking")


def external_id(platform: str, n: int) -> str:
    if platform == "google":
        digest = base64.urlsafe_b64encode(hashlib.sha256(str(n).encode()).digest()).decode()
        return "ChIJ" + digest[:23]
    if platform == "facebook":
        return f"https://www.facebook.com/page-{n}"
    if platform == "tripadvisor":
        return f"https://www.tripadvisor.com/Hotel_Review-g1-d{n}-Reviews-Name.html"
    return f"https://www.booking.com/hotel/fr/hotel-{n}.html"


def team_id(n: int) -> str:
    return f"team-{n:05d}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--businesses", type=int, default=100_000)
    parser.add_argument("--teams", type=int, default=1_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    args = parser.parse_args()

    recreate_database()
    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
    from schedules.services.assignment import schedule_groups_init

    with timed() as t_teams:
        for n in range(args.teams):
            team_upsert(team_id=team_id(n), tier=TIERS[n % len(TIERS)])
    groups = schedule_groups_init()

    rows = [
        BusinessRow(
            team_id=team_id(n % args.teams),
            platform=PLATFORMS[n % len(PLATFORMS)],
            external_id=external_id(PLATFORMS[n % len(PLATFORMS)], n),
            name=f"Business {n}",
        )
        for n in range(args.businesses)
    ]
    chunk_times: list[float] = []
    created = mappings = 0
    with timed() as t_total:
        for start in range(0, len(rows), args.chunk):
            with timed() as t_chunk:
                result = businesses_bulk_register(rows=rows[start : start + args.chunk])
            chunk_times.append(t_chunk.seconds)
            created += result.created
            mappings += result.mappings_created
            done = start + args.chunk
            if len(chunk_times) % 5 == 0:
                print(
                    f"  {min(done, len(rows)):>9,} rows  last chunk {t_chunk.seconds:.2f} s",
                    flush=True,
                )

    with timed() as t_rerun:  # idempotence: re-importing the first chunk places nothing
        again = businesses_bulk_register(rows=rows[: args.chunk])

    batches = sql("SELECT count(*) FROM schedules_batch")[0][0]
    wrong = sql(
        "SELECT count(*) FROM schedules_batch b LEFT JOIN ("
        "  SELECT batch_id, count(*) AS n FROM schedules_mapping GROUP BY batch_id) m"
        " ON m.batch_id = b.id"
        " WHERE b.business_count <> coalesce(m.n, 0) OR b.business_count > b.capacity"
        " OR b.business_count < 0"
    )[0][0]
    minimum = sql(
        "SELECT coalesce(sum(need), 0) FROM (SELECT ceil(sum(business_count)::numeric"
        " / max(capacity)) AS need FROM schedules_batch GROUP BY group_id) g"
    )[0][0]
    total_mappings = sql("SELECT count(*) FROM schedules_mapping")[0][0]
    total_businesses = sql("SELECT count(*) FROM businesses_business")[0][0]
    per_s = rate(created, t_total.seconds)
    n_chunks = len(chunk_times)
    first = sum(chunk_times[:3]) / min(3, n_chunks)
    last = sum(chunk_times[-3:]) / min(3, n_chunks)
    exact = (
        wrong == 0
        and total_mappings == 2 * args.businesses == mappings
        and total_businesses == created == args.businesses
    )
    copy_per_s = rate(total_businesses, copy_ceiling(WRITTEN, GIVEN))
    ceiling_rows, ceiling_line = ceiling(
        "bulk assignment", per_s, copy_per_s, TARGET_PER_S, "businesses"
    )

    print_table(
        f"assign: {args.businesses:,} businesses, {args.teams:,} teams, "
        f"{args.chunk:,} rows per businesses_bulk_register call",
        ("figure", "value", "target / expected", "verdict"),
        [
            ("teams via team_upsert (s)", t_teams.seconds, "", ""),
            ("standard groups created", groups, 32, verdict(groups == 32)),
            ("businesses created", created, args.businesses, verdict(created == args.businesses)),
            ("total time (s)", t_total.seconds, "", ""),
            ("businesses/s", per_s, f">= {TARGET_PER_S:,}", verdict(per_s >= TARGET_PER_S)),
            *ceiling_rows,
            ("chunk time, first 3 avg (s)", first, "", ""),
            ("chunk time, last 3 avg (s)", last, "flat", verdict(last <= 2 * first)),
            (
                "mappings created",
                mappings,
                2 * args.businesses,
                verdict(mappings == 2 * args.businesses),
            ),
            ("batches created", batches, f">= {minimum:,} (minimum)", verdict(batches >= minimum)),
            ("batches wrong count/over capacity", wrong, 0, verdict(wrong == 0)),
            ("re-import first chunk (s)", t_rerun.seconds, "", ""),
            (
                "re-import created/mapped",
                f"{again.created}/{again.mappings_created}",
                "0/0",
                verdict(again.created == again.mappings_created == 0),
            ),
            ("batch counts exact", "", "", verdict(exact)),
        ],
    )
    print(ceiling_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
