"""The chaos run, short form: `bench/chaos.py --short` on real processes (PostgreSQL, a Redis
server of its own, the Apify sandbox, gunicorn, 2 beats, 2 run_dispatcher loops, 3 workers,
clocks skewed ±30 s) while a driver SIGKILLs them, terminates their database connections,
blacks out every dispatcher at once, restarts Redis and restarts its own PostgreSQL
(`pg_ctl restart -m fast`); the stack reaches PostgreSQL through a
PgBouncer in transaction mode when it is installed. Its checker exits non-zero on any
broken invariant; the long form is `python bench/chaos.py` (README)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
# Through PgBouncer (transaction pooling) where Debian's pgbouncer is installed, as in .ci/run.
POOLER = shutil.which("pgbouncer") or Path("/usr/sbin/pgbouncer").exists()


def test_the_short_chaos_run_breaks_no_invariant() -> None:
    result = subprocess.run(
        [sys.executable, "chaos.py", "--short", *(["--pgbouncer"] if POOLER else [])],
        cwd=REPO / "bench",
        capture_output=True,
        text=True,
        timeout=900,
    )
    output = result.stdout + result.stderr
    verdict = output[output.rfind("Chaos run: invariants and figures") :]
    assert result.returncode == 0, output[-12_000:] + "\n" + verdict[:6_000]
    assert "All invariants held." in output
    # The faults really happened: a run that broke nothing because nothing broke proves nothing.
    assert _figure(output, "SIGKILL") >= 5  # the blackout's 4 and at least one more
    assert _figure(output, "pg_terminate_backend") >= 1
    assert _figure(output, "redis restart") == 1
    assert _figure(output, "postgres restart -m fast") == 1
    assert _figure(output, "callbacks answered 2xx") >= 500
    assert _figure(output, "slots held up by the blackout (every dispatcher down)") >= 1
    assert _figure(output, "scheduled executions") >= 500
    if POOLER:
        assert "through PgBouncer (transaction pooling)" in output


def _figure(output: str, label: str) -> int:
    """A number from one of the run's printed tables: `label   |   1,234`."""
    match = re.search(rf"^{re.escape(label)}\s*\|\s*([\d,]+)\s*$", output, re.MULTILINE)
    assert match, f"no figure {label!r} in the output"
    return int(match.group(1).replace(",", ""))
