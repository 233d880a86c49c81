"""Run every benchmark of the project and print ONE table: figure, target, baseline, ratio.

    python bench/report.py            # all of them, about 30 minutes (the soak alone 10)
    python bench/report.py --only ingest,validate

Each benchmark runs as its own process (its own bench database and Redis db, named after
DATABASE_URL's and CELERY_BROKER_URL's: bench/_common.py); this script reads the figures from
their printed tables. Figures below their target are listed again at the end, and so is
anything that could not be measured."""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from _common import print_table
from _report_figures import BENCHMARKS

BENCH = Path(__file__).resolve().parent


NOT_MEASURED: list[str] = []


def number(text: str) -> float:
    return float(text.replace(",", ""))


def run(name: str, args: list[str]) -> tuple[str, float]:
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, str(BENCH / args[0]), *args[1:]],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode != 0:
        print(f"[{name}] exited {out.returncode}:\n{out.stderr[-2000:]}", file=sys.stderr)
    return out.stdout, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", help="comma-separated: " + ",".join(BENCHMARKS))
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    values: dict[str, float] = {}
    rows, below, missing = [], [], list(NOT_MEASURED)
    for name in chosen:
        script, figures = BENCHMARKS[name]
        if name in ("webhook", "api") and shutil.which("wrk") is None:
            missing.append(f"{name}: wrk is not installed (apt-get install -y wrk)")
            continue
        print(f"running {name} …", file=sys.stderr, flush=True)
        output, seconds = run(name, script)
        for figure in figures:
            match = re.search(figure.pattern, output, re.M)
            if not match:
                missing.append(f"{figure.label}: not found in the output of {script[0]}")
                continue
            value = values[figure.label] = number(match.group(1))
            base = values.get(figure.baseline) if figure.baseline else None
            ratio = ""
            if base:  # value / base; a lower-is-better figure far below its baseline as 1/N
                small = not figure.higher_is_better and value and value < base
                ratio = f"1/{base / value:,.1f}x" if small else f"{value / base:,.1f}x"
            ok = None
            if figure.target is not None:
                ok = value >= figure.target if figure.higher_is_better else value <= figure.target
                if not ok:
                    below.append(f"{figure.label}: {value:,.2f} against {figure.target:,.2f}")
            target = (
                ""
                if figure.target is None
                else (f"{'>=' if figure.higher_is_better else '<='} {figure.target:,.2f}")
            )
            rows.append(
                (
                    figure.label,
                    value,
                    target,
                    f"{base:,.0f}" if base else "",
                    ratio,
                    "" if ok is None else ("OK" if ok else "BELOW"),
                )
            )
        print(f"  {name} took {seconds:.0f} s", file=sys.stderr)
    print_table(
        "Global Scheduler benchmarks",
        ("figure", "value", "target", "baseline", "ratio", "verdict"),
        rows,
    )
    print("\nBelow target:" if below else "\nBelow target: none")
    for line in below:
        print(f"  - {line}")
    print("Not measured:" if missing else "Not measured: none")
    for line in missing:
        print(f"  - {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
