"""The soak, short form: `bench/soak.py --minutes N` on real processes (a Redis server of its
own, the Apify sandbox, gunicorn, the beat, a run_dispatcher loop and four workers, faults off)
at 3,000 businesses due every minute. It exits non-zero when memory or connections grow by
10 % after the warm-up, lateness drifts by more than a tick or a process exits; the long form
(60 min) is `python bench/soak.py`, its table in docs/benchmarks.md.

SOAK_MINUTES sets the length (default 1.5, so the whole suite stays inside CI's 20 minutes;
`SOAK_MINUTES=5 SOAK_SAMPLE_SECONDS=30 pytest tests/integration/test_soak.py` is the 5-minute
short form), SOAK_SAMPLE_SECONDS the sampling (default 15 s: six rows to judge)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MINUTES = float(os.environ.get("SOAK_MINUTES", "1.5"))
SAMPLE_SECONDS = float(os.environ.get("SOAK_SAMPLE_SECONDS", "15"))


def test_the_short_soak_stays_flat() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "soak.py",
            "--minutes",
            f"{MINUTES:g}",
            "--sample-seconds",
            f"{SAMPLE_SECONDS:g}",
        ],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=MINUTES * 60 + 300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-12_000:]
    table = output[output.rfind("Soak: one row per sample") : output.rfind("Soak: verdicts")]
    rows = re.findall(r"^\s*(\d+\.\d)\s*\|", table, re.MULTILINE)
    assert len(rows) == round(MINUTES * 60 / SAMPLE_SECONDS), table
    assert "Soak held" in output
    started = re.search(r"^scheduled executions started\s*\|\s*([\d,]+)", output, re.MULTILINE)
    assert started, output[-4_000:]
    # One execution is due every second: a run that started little proves nothing.
    assert int(started.group(1).replace(",", "")) >= MINUTES * 60 * 0.8
