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
from dataclasses import dataclass
from pathlib import Path

from _common import print_table

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Figure:
    label: str
    pattern: str  # a regex whose first group is the number, searched in the output
    target: float | None = None
    higher_is_better: bool = True
    baseline: str | None = None  # a label of another figure, or a literal "number"


# (benchmark script and its arguments, the figures it prints)
BENCHMARKS: dict[str, tuple[list[str], list[Figure]]] = {
    "assign": (
        ["assign.py", "--businesses", "100000"],
        [
            Figure(
                "assignment ceiling: raw COPY of the same rows (businesses/s)",
                r"^ceiling: raw COPY of the same rows \(businesses/s\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "assignment, bulk path (businesses/s)",
                r"^businesses/s\s*\|\s*([\d,.]+)",
                10000,
                baseline="assignment ceiling: raw COPY of the same rows (businesses/s)",
            ),
            Figure(
                "assignment, bulk path / COPY ceiling",
                r"^real path / COPY ceiling\s*\|\s*([\d,.]+)",
            ),
        ],
    ),
    "dispatch": (
        ["compare_dispatch.py"],
        [
            Figure(
                "django-celery-beat DatabaseScheduler (sends/s)",
                r"^beat: sends/s[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "dispatch, 1 process (batches/s)",
                r"^dispatch, 1 proc: batches/s[^|]*\|\s*([\d,.]+)",
                2000,
                baseline="django-celery-beat DatabaseScheduler (sends/s)",
            ),
            Figure(
                "dispatch, 4 processes (batches/s)",
                r"^dispatch, 4 proc: batches/s[^|]*\|\s*([\d,.]+)",
                2000,
                baseline="django-celery-beat DatabaseScheduler (sends/s)",
            ),
        ],
    ),
    "ingest": (
        ["ingest.py", "--items", "100000", "--businesses", "500"],
        [
            Figure(
                "ingest ceiling: raw COPY of the same rows (rows/s)",
                r"^ceiling: raw COPY of the same rows\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest end to end (items/s)",
                r"^execution_ingest end to end\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                20000,
                baseline="ingest ceiling: raw COPY of the same rows (rows/s)",
            ),
            Figure(
                "ingest end to end / COPY ceiling",
                r"^end to end / COPY ceiling\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                0.40,
            ),
        ],
    ),
    "ingest_memory": (
        ["ingest_memory.py", "--small", "100000", "--large", "1000000"],
        [
            Figure(
                "ingest peak RSS, 1,000,000 items held whole (MB)",
                r"^whole dataset \(before\)\s*\|\s*1,000,000\s*\|[^|]*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest peak RSS, 1,000,000 items page by page (MB)",
                r"^page by page \(the service\)\s*\|\s*1,000,000\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
                baseline="ingest peak RSS, 1,000,000 items held whole (MB)",
            ),
            Figure(
                "ingest peak RSS ratio 1,000,000 / 100,000 items",
                r"^peak at large / at small \(page by page\)\s*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                1.25,
                higher_is_better=False,
            ),
        ],
    ),
    "webhook": (
        ["webhook_load.py", "--seconds", "15", "--configs", "sync:4", "--conn-max-age", "60"],
        [
            Figure(
                "webhook under gunicorn (req/s)",
                r"best config: [^:]+:\d+ [^:]+: ([\d,.]+) req/s",
                500,
            ),
            Figure(
                "webhook p99 (ms)", r"best config: .* p99 ([\d.]+) ms", 50, higher_is_better=False
            ),
        ],
    ),
    "api": (
        ["api_load.py", "--businesses", "10000", "--seconds", "10"],
        [
            Figure("API ceiling: /healthz (req/s)", r"^ceiling: /healthz[^|]*\|\s*([\d,.]+)"),
            Figure(
                "admin schedule list (req/s)",
                r"^admin schedule list \(50/page\)\s*\|\s*([\d,.]+)",
                800,
                baseline="API ceiling: /healthz (req/s)",
            ),
            Figure(
                "admin schedule list p99 (ms)",
                r"^admin schedule list \(50/page\)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                40,
                higher_is_better=False,
            ),
            Figure(
                "product business list (req/s)",
                r"^product business list \(50/page\)\s*\|\s*([\d,.]+)",
                800,
                baseline="API ceiling: /healthz (req/s)",
            ),
            Figure(
                "product business list p99 (ms)",
                r"^product business list \(50/page\)\s*\|[^|]*\|[^|]*\|[^|]*\|\s*([\d,.]+)",
                40,
                higher_is_better=False,
            ),
        ],
    ),
    "import": (
        ["import.py", "--rows", "100000"],
        [
            Figure(
                "import ceiling: raw COPY of the same rows (rows/s)",
                r"^ceiling: raw COPY of the same rows \(rows/s\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "import_businesses, 100,000 rows (rows/s)",
                r"^100,000 rows: rows/s\s*\|\s*([\d,.]+)",
                10000,
                baseline="import ceiling: raw COPY of the same rows (rows/s)",
            ),
            Figure(
                "import_businesses / COPY ceiling",
                r"^real path / COPY ceiling\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "import_businesses peak RSS ratio 2N/N",
                r"^peak RSS ratio 2N / N\s*\|\s*([\d.]+)",
                1.25,
                higher_is_better=False,
            ),
        ],
    ),
    "soak": (
        ["soak.py", "--minutes", "10", "--sample-seconds", "60"],  # the long form: 60 minutes
        [
            Figure(
                "soak: RSS growth after warm-up, ingest worker (%)",
                r"^RSS w-ingest \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: RSS growth after warm-up, start worker (%)",
                r"^RSS w-start \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: RSS growth after warm-up, web (%)",
                r"^RSS web \(MiB\) growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: PostgreSQL sessions growth (%)",
                r"^PostgreSQL sessions growth[^|]*\|[^(]*\(([-+\d.]+)%\)",
                10,
                higher_is_better=False,
            ),
            Figure(
                "soak: lateness p99, first third (s)",
                r"^lateness steady[^|]*\|\s*first third p99 ([\d.]+) s",
            ),
            Figure(
                "soak: lateness p99, last third (s)",
                r"^lateness steady[^|]*\|.*last third p99 ([\d.]+) s",
                higher_is_better=False,
                baseline="soak: lateness p99, first third (s)",
            ),
        ],
    ),
    "validate": (
        ["validate.py"],
        [
            Figure(
                "validate_global_schedules, 100,000 businesses (s)",
                r"^TOTAL \(call_command\)\s*\|\s*([\d.]+)",
                10,
                higher_is_better=False,
            ),
        ],
    ),
    "lateness": (
        ["lateness.py"],  # 10,000 batches over 60 s, 2 dispatchers ticking every 1 s, 1 edit/s
        [
            Figure(
                "django-celery-beat lateness p99, 1 edit/s (ms, lower bound)",
                r"^beat: lateness p99, all slots \(ms\)\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "dispatch lateness p50, 1 edit/s (ms)",
                r"^lateness p50 \(ms\)\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "dispatch lateness p99, 1 edit/s (ms)",
                r"^lateness p99 \(ms\)\s*\|\s*([\d,.]+)",
                2000,  # two ticks of 1 s: a slot waits up to one tick by design
                higher_is_better=False,
                baseline="django-celery-beat lateness p99, 1 edit/s (ms, lower bound)",
            ),
        ],
    ),
    "capacity": (
        ["capacity.py"],  # 500 batches due at once on a 16-slot account, admission on and off
        [
            Figure(
                "capacity: starts refused (402), admission off",
                r"^starts refused \(402\)\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "capacity: starts refused (402), admission on",
                r"^starts refused \(402\)\s*\|\s*([\d,.]+)",
                0,
                higher_is_better=False,
                baseline="capacity: starts refused (402), admission off",
            ),
            Figure(
                "capacity: account used while work waited (% of slots)",
                r"^account used while work waited \(% of slots\)\s*\|\s*([\d,.]+)",
                95,
            ),
            Figure(
                "capacity: account full while work waited (% of time)",
                r"^account full while work waited \(% of time\)\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "capacity: drain time / ideal",
                r"^drain / ideal\s*\|\s*([\d,.]+)",
                1.10,
                higher_is_better=False,
            ),
            Figure(
                "Apify runs per day, 10,000 businesses, one schedule each",
                r"^Apify runs per day\s*\|[^|]*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "Apify runs per day, 10,000 businesses in batches",
                r"^Apify runs per day\s*\|\s*([\d,.]+)",
                higher_is_better=False,
                baseline="Apify runs per day, 10,000 businesses, one schedule each",
            ),
        ],
    ),
    "webhook_deliveries": (
        ["webhook_deliveries.py"],  # 10,000 deliveries at once, then 500/s for 20 s; ingest off/on
        [
            Figure(
                "webhook deliveries, 10,000 queued (deliveries/s)",
                r"^deliveries/s \(first created -> last arrival\)\s*\|\s*([\d,.]+)",
                500,
            ),
            Figure(
                "webhook enqueue-to-delivery p99 at 500/s (s)",
                r"^latency p99 \(s\)\s*\|[^|]*\|\s*([\d,.]+)",
                2.0,
                higher_is_better=False,
            ),
            Figure(
                "webhook delivery: worker CPU per delivery, 10,000 queued (ms)",
                r"^CPU ms per delivery: celery workers\s*\|\s*([\d,.]+)",
                higher_is_better=False,
            ),
            Figure(
                "ingest end to end, notifications off (items/s)",
                r"^ingest items/s, notifications off\s*\|\s*([\d,.]+)",
            ),
            Figure(
                "ingest end to end, notifications on (items/s)",
                r"^ingest items/s, notifications on\s*\|\s*([\d,.]+)",
                baseline="ingest end to end, notifications off (items/s)",
            ),
            Figure(
                "ingest items/s, notifications on / off",
                r"^ingest items/s on / off\s*\|\s*([\d,.]+)",
                0.90,
            ),
        ],
    ),
    "dashboard": (
        ["dashboard_render.py", "--businesses", "10000", "--renders", "30"],
        [
            Figure(
                "dashboard: slowest page p95, 10,000 businesses (ms)",
                r"^slowest page p95 \(ms\)\s*\|\s*([\d,.]+)",
                150,
                higher_is_better=False,
            ),
            Figure(
                "dashboard: overview p95 (ms)",
                r"^overview p95 \(ms\)\s*\|\s*([\d,.]+)",
                150,
                higher_is_better=False,
            ),
        ],
    ),
}
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
