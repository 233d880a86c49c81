"""django-celery-beat (one PeriodicTask per business) against our dispatcher, in one run.

    python bench/compare_dispatch.py [--tasks 1000] [--batches 10000] [--dispatchers 1,4]

Runs beat_baseline at its default size, then dispatch (every dispatcher count), and prints
one table: rates, the time to start 10,000 units of work, and our/their ratios.
"""

from __future__ import annotations

import argparse
import sys

import beat_baseline
import dispatch
from _common import Row, flush_broker, print_table, verdict


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1_000)
    parser.add_argument("--fit-tasks", type=int, default=500)
    parser.add_argument("--batches", type=int, default=10_000)
    parser.add_argument("--dispatchers", default="1,4")
    args = parser.parse_args()

    beat_runs = beat_baseline.measure(args.tasks, args.fit_tasks, shared=False)
    beat = max(beat_runs, key=lambda r: r.tasks)
    linear_10k, fit_10k = beat_baseline.extrapolate(beat_runs)
    beat_10k = fit_10k if fit_10k is not None else linear_10k
    runs = dispatch.measure(args.batches, [int(c) for c in args.dispatchers.split(",")])

    rows: list[Row] = [
        (f"beat: sends/s ({beat.tasks:,} PeriodicTasks)", beat.per_s, "", "", ""),
        ("beat: time for 10,000 (s), extrapolated", beat_10k, "", "", ""),
        (
            "beat: time for 10,000 (s), BASELINES.md",
            beat_baseline.BASELINE["seconds_10k"],
            "",
            "",
            "",
        ),
    ]
    for r in runs:
        per_10k = 10_000 / r.per_s
        rows += [
            (
                f"dispatch, {r.dispatchers} proc: batches/s ({r.claimed:,} due)",
                r.per_s,
                f"{r.per_s / beat.per_s:,.0f}x",
                f"{r.per_s / beat_baseline.BASELINE['sends_per_s']:,.0f}x",
                verdict(r.per_s >= dispatch.TARGET_PER_S and r.exactly_once),
            ),
            (
                f"dispatch, {r.dispatchers} proc: time for 10,000 (s)",
                per_10k,
                f"{beat_10k / per_10k:,.0f}x faster",
                f"{beat_baseline.BASELINE['seconds_10k'] / per_10k:,.0f}x faster",
                "",
            ),
        ]
    print_table(
        f"dispatch vs django-celery-beat (beat measured at {beat.tasks:,} tasks; dispatch at"
        f" {args.batches:,} due batches; verdict: >= {dispatch.TARGET_PER_S:,}/s and exactly once)",
        ("figure", "value", "ours / beat here", "ours / beat BASELINES", "verdict"),
        rows,
    )
    print(
        "note: one beat send starts ONE business; one batch starts up to 100-200 businesses"
        " in one actor run, so per-business the gap is that much wider."
    )
    flush_broker()
    return 0


if __name__ == "__main__":
    sys.exit(main())
