"""`manage.py import_businesses` end to end: throughput and peak memory of the real command.

Generates a CSV (N rows, 1,000 teams, 4 platforms) in a temp dir, recreates the bench database,
and runs `python manage.py import_businesses FILE --no-progress` in a subprocess; measures
rows/s (wall time of the whole process, Django start-up included) and the child's peak RSS.
The same for 2 × N rows on a fresh database (run first): the peak memory must stay flat.
Beside the N-row run, the ceiling: a raw COPY of the rows it wrote (teams, batches,
businesses, mappings, every column) into the same tables of a fresh database, in the same run.

    python bench/import.py [--rows 100000] [--teams 1000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import (
    DATABASE_URL,
    ROOT,
    ceiling,
    copy_ceiling,
    print_table,
    rate,
    recreate_database,
    sql,
    timed,
    verdict,
)
from assign import PLATFORMS, TIERS, external_id, team_id

TARGET_PER_S = 10_000
# What the import writes, parents first (the rows its ceiling COPYs), and what it finds.
WRITTEN = ("businesses_team", "schedules_batch", "businesses_business", "schedules_mapping")
GIVEN = ("schedules_schedulegroup",)
FLAT_RATIO = 1.25  # peak RSS for 2 × N rows at most this times the one for N rows


def write_csv(path: Path, rows: int, teams: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write("team_id,tier,platform,external_id,name\n")
        for n in range(rows):
            t, platform = n % teams, PLATFORMS[n % len(PLATFORMS)]
            tier = TIERS[t % len(TIERS)]
            handle.write(f"{team_id(t)},{tier},{platform},{external_id(platform, n)},B {n}\n")


def run_import(path: Path) -> tuple[int, float, float, str]:
    """(exit code, seconds, peak RSS in MiB, last stdout lines) of one command process.

    The child's own rusage comes from wait4 (RUSAGE_CHILDREN would be the maximum over all
    the children reaped so far, hiding a smaller second run)."""
    env = {**os.environ, "DATABASE_URL": DATABASE_URL}
    command = [sys.executable, "manage.py", "import_businesses", str(path), "--no-progress"]
    with timed() as t:
        child = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        out = child.stdout.read().decode() if child.stdout else ""
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    peak_mib = usage.ru_maxrss / 1024  # KiB on Linux
    return child.returncode, t.seconds, peak_mib, out.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--teams", type=int, default=1_000)
    args = parser.parse_args()

    results = []
    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        # 2 × N first: the N run ends with the ceiling, whose rows this process then holds,
        # and a child's peak RSS starts from its parent's (the spawn shares its memory).
        for rows in (2 * args.rows, args.rows):
            path = Path(tmp) / f"base-{rows}.csv"
            write_csv(path, rows, args.teams)
            recreate_database()
            from schedules.services.assignment import schedule_groups_init

            schedule_groups_init()
            code, seconds, peak, out = run_import(path)
            print(f"\n--- {rows:,} rows: exit {code}\n{out}", flush=True)
            businesses = sql("SELECT count(*) FROM businesses_business")[0][0]
            mappings = sql("SELECT count(*) FROM schedules_mapping")[0][0]
            results.append((rows, code, seconds, peak, businesses, mappings, path.stat().st_size))
            if rows == args.rows:
                rerun = run_import(path)
                print(f"\n--- re-run of the same file: exit {rerun[0]}\n{rerun[3]}", flush=True)
                again = sql("SELECT count(*) FROM businesses_business")[0][0]
                copy_per_s = rate(again, copy_ceiling(WRITTEN, GIVEN))

    results.sort()
    table = []
    for rows, code, seconds, peak, businesses, mappings, size in results:
        per_s = rate(rows, seconds)
        complete = code == 0 and businesses == rows and mappings == 2 * rows
        table += [
            (f"{rows:,} rows: file size (MiB)", size / 2**20, "", ""),
            (f"{rows:,} rows: seconds", seconds, "", ""),
            (
                f"{rows:,} rows: rows/s",
                per_s,
                f">= {TARGET_PER_S:,}",
                verdict(per_s >= TARGET_PER_S),
            ),
            (f"{rows:,} rows: peak RSS (MiB)", peak, "", ""),
            (
                f"{rows:,} rows: exit/businesses/mappings",
                f"{code}/{businesses}/{mappings}",
                f"0/{rows}/{2 * rows}",
                verdict(complete),
            ),
        ]
    small, large = results[0][3], results[1][3]
    real_per_s = rate(args.rows, results[0][2])
    ceiling_rows, ceiling_line = ceiling(
        f"import of {args.rows:,} rows", real_per_s, copy_per_s, TARGET_PER_S, "rows"
    )
    table += ceiling_rows
    table += [
        ("re-run: exit, seconds", f"{rerun[0]}, {rerun[1]:.1f}", "0", verdict(rerun[0] == 0)),
        ("re-run: businesses after", again, args.rows, verdict(again == args.rows)),
        ("peak RSS ratio 2N / N", large / small, f"<= {FLAT_RATIO}",
         verdict(large / small <= FLAT_RATIO)),
    ]  # fmt: skip
    print_table(
        f"import: {args.rows:,} and {2 * args.rows:,} rows, {args.teams:,} teams, "
        "4 platforms, one subprocess each",
        ("figure", "value", "target / expected", "verdict"),
        table,
    )
    print(ceiling_line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
