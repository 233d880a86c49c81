"""Ingest memory: the peak RSS of a process that ingests one finished run of N Google review
items (downloaded through the real apify-client from the strict fake in a process of its own),
at N and at 10 × N. The ingest spools the dataset to disk and stores it page by page, so the
peak must stay flat (at most FLAT_RATIO times). Beside it, the same items held whole in memory
and recorded in one go (how ingest worked before), which is what flat is measured against.

    python bench/ingest_memory.py [--small 100000] [--large 1000000] [--businesses 500]

Each measurement is a fresh child process (`--child N MODE`) on a fresh bench database.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys

from _common import ROOT, configure, print_table, recreate_database, timed, verdict

FLAT_RATIO = 1.25  # peak RSS at 10 × N at most this times the one at N
TOKEN = "bench-token"


def child(count: int, businesses: int, mode: str) -> None:
    """Ingest `count` items (`mode` stream: the service; whole: all items in one page)."""
    configure()
    from _dataset_server import RemoteFakeApify
    from ingest import finished_run, register, review_items, running_execution

    with RemoteFakeApify(TOKEN, review_items) as fake:
        os.environ["APIFY_API_URL"], os.environ["APIFY_TOKEN"] = fake.url, TOKEN
        recreate_database()
        from schedules import apify
        from schedules.services.ingest import _record, execution_ingest

        snapshot = register(businesses)
        run_id = finished_run(fake, snapshot, "M", count)
        execution_id = running_execution(run_id, snapshot)
        before = peak_mb()
        with timed() as t:
            if mode == "stream":
                result = execution_ingest(execution_id=execution_id)
            else:
                state = apify.actor_run_get(run_id)
                with apify.dataset_items(state.dataset_id) as spool:
                    items = [item for page in spool.pages() for item in page]
                result = _record(execution_id, run_id, state, [items])
    assert result is not None and result.items == count, result
    print(f"RESULT before_mb={before:.0f} peak_mb={peak_mb():.0f} seconds={t.seconds:.1f}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kB


def measure(count: int, businesses: int, mode: str) -> dict[str, float]:
    env = {**os.environ, "BENCH_DB_SUFFIX": "_ingestmemory"}
    args = [sys.executable, __file__, "--child", str(count), mode, "--businesses", str(businesses)]
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if done.returncode or line is None:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        raise SystemExit(f"the {mode} ingest of {count:,} items failed")
    return {k: float(v) for k, v in (part.split("=") for part in line.split()[1:])}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--businesses", type=int, default=500)
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.businesses, args.child[1])
        return 0
    rows, peaks = [], {}
    for mode in ("stream", "whole"):
        for count in (args.small, args.large):
            found = measure(count, args.businesses, mode)
            peaks[mode, count] = found["peak_mb"]
            label = "page by page (the service)" if mode == "stream" else "whole dataset (before)"
            rate = f"{count / found['seconds']:,.0f}"
            rows.append(
                (label, f"{count:,}", f"{found['before_mb']:.0f}", f"{found['peak_mb']:.0f}", rate)
            )
    ratio = peaks["stream", args.large] / peaks["stream", args.small]
    held = peaks["whole", args.large] / peaks["stream", args.large]
    rows.append(
        ("peak at large / at small (page by page)", "", "", f"{ratio:.2f}", f"<= {FLAT_RATIO}")
    )
    rows.append(("whole / page by page, at large", "", "", f"{held:.1f}", ""))
    print_table(
        f"ingest memory: peak RSS of the ingesting process, {args.businesses} businesses",
        ("ingest", "items", "MB before ingest", "peak MB", "items/s"),
        rows,
    )
    print(f"memory flat: {verdict(ratio <= FLAT_RATIO)} ({ratio:.2f} <= {FLAT_RATIO})")
    return 0 if ratio <= FLAT_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
