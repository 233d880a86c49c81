"""validate_global_schedules on a large database: N businesses registered through
`businesses_bulk_register`, then the command timed per check against the ≤ 10 s target, then
one `--fix` run after planting a few corruptions of each repairable kind.

    python bench/validate.py [--businesses 100000] [--teams 1000] [--chunk 5000]
                             [--database scheduler_bench_validate]

`--database` (a bench name, `<name>_bench_<suffix>`) keeps this run apart from other benches
running at the same time; the default is the shared bench database.
"""

from __future__ import annotations

import argparse
import json
import sys
from io import StringIO

import _common
from _common import print_table, recreate_database, sql, timed, verdict
from assign import PLATFORMS, TIERS, external_id, team_id

TARGET_S = 10.0
COMMAND = "validate_global_schedules"


def run_command(*args: str) -> tuple[int, dict]:
    """(exit code, JSON report) of the command, in-process."""
    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    try:
        call_command(COMMAND, "--json", *args, stdout=out, stderr=StringIO())
        code = 0
    except CommandError as exc:
        code = exc.returncode
    return code, json.loads(out.getvalue())


def plant_corruptions() -> dict[str, int]:
    """A few of each repairable kind, with raw SQL (behind the services' back)."""
    planted = {
        "batch counts off": sql(
            "UPDATE schedules_batch SET business_count = business_count - 1 WHERE id IN"
            " (SELECT id FROM schedules_batch WHERE business_count > 1 ORDER BY id LIMIT 5)"
            " RETURNING id"
        ),
        "mappings deleted": sql(
            "DELETE FROM schedules_mapping WHERE id IN"
            " (SELECT id FROM schedules_mapping ORDER BY id DESC LIMIT 20) RETURNING id"
        ),
        "businesses deactivated": sql(
            "UPDATE businesses_business SET active = false WHERE id IN"
            " (SELECT id FROM businesses_business ORDER BY id LIMIT 50) RETURNING id"
        ),
        "mappings of another team": sql(
            "UPDATE schedules_mapping SET team_id = 'team-00000' WHERE id IN"
            " (SELECT id FROM schedules_mapping WHERE team_id <> 'team-00000'"
            "  ORDER BY id LIMIT 10) RETURNING id"
        ),
        "next_run_at in 2001": sql(
            "UPDATE schedules_batch SET next_run_at = '2001-01-01T00:00:00Z' WHERE id IN"
            " (SELECT id FROM schedules_batch WHERE status = 'active' ORDER BY id LIMIT 5)"
            " RETURNING id"
        ),
    }
    return {what: len(rows) for what, rows in planted.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--businesses", type=int, default=100_000)
    parser.add_argument("--teams", type=int, default=1_000)
    parser.add_argument("--chunk", type=int, default=5_000)
    parser.add_argument("--database", default=_common.BENCH_DB)
    args = parser.parse_args()

    recreate_database(args.database)
    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert
    from schedules.services.assignment import schedule_groups_init

    for n in range(args.teams):
        team_upsert(team_id=team_id(n), tier=TIERS[n % len(TIERS)])
    schedule_groups_init()
    rows = [
        BusinessRow(
            team_id=team_id(n % args.teams),
            platform=PLATFORMS[n % len(PLATFORMS)],
            external_id=external_id(PLATFORMS[n % len(PLATFORMS)], n),
            name=f"Business {n}",
        )
        for n in range(args.businesses)
    ]
    with timed() as t_register:
        for start in range(0, len(rows), args.chunk):
            businesses_bulk_register(rows=rows[start : start + args.chunk])
    sql("ANALYZE")
    mappings = sql("SELECT count(*) FROM schedules_mapping")[0][0]
    batches = sql("SELECT count(*) FROM schedules_batch")[0][0]
    print(
        f"registered {args.businesses:,} businesses in {t_register.seconds:.1f} s: "
        f"{mappings:,} mappings, {batches:,} batches",
        flush=True,
    )

    with timed() as t_clean:
        code, report = run_command()
    clean_ok = code == 0 and report["status"] == "ok"
    per_check = [
        (c["name"], c["seconds"], c["count"], c["status"].upper()) for c in report["checks"]
    ]
    print_table(
        f"validate_global_schedules: {args.businesses:,} businesses, {args.teams:,} teams",
        ("check", "seconds", "findings", "status"),
        [
            *per_check,
            ("TOTAL (call_command)", t_clean.seconds, "", ""),
            (
                f"target <= {TARGET_S:.0f} s, exit 0",
                t_clean.seconds,
                code,
                verdict(clean_ok and t_clean.seconds <= TARGET_S),
            ),
        ],
    )

    with timed() as t_team:
        team_code, _ = run_command("--team", team_id(1))

    planted = plant_corruptions()
    with timed() as t_detect:
        detect_code, detected = run_command()
    with timed() as t_fix:
        fix_code, fixed = run_command("--fix")
    with timed() as t_after:
        after_code, _ = run_command()
    failing = [c["name"] for c in detected["checks"] if c["status"] == "fail"]
    print_table(
        "--team and --fix",
        ("figure", "value", "expected", "verdict"),
        [
            ("--team run (s)", t_team.seconds, "", verdict(team_code == 0)),
            *((f"planted: {what}", n, "", "") for what, n in planted.items()),
            ("detect run (s)", t_detect.seconds, f"<= {TARGET_S:.0f}", ""),
            ("detect exit code", detect_code, 1, verdict(detect_code == 1)),
            ("failing checks", ", ".join(failing), "", ""),
            *((f"fixed: {what}", n, "", "") for what, n in (fixed.get("fixed") or {}).items()),
            (
                "--fix run incl. re-check (s)",
                t_fix.seconds,
                f"<= {2 * TARGET_S:.0f}",
                verdict(t_fix.seconds <= 2 * TARGET_S),
            ),
            ("--fix exit code", fix_code, 0, verdict(fix_code == 0)),
            ("re-run after fix (s)", t_after.seconds, "", ""),
            ("re-run exit code", after_code, 0, verdict(after_code == 0)),
        ],
    )
    return 0 if clean_ok and fix_code == 0 and after_code == 0 and detect_code == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
