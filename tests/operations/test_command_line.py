"""The commands as an operator types them: a bad option is one line with the reason and a
non-zero exit, never a traceback; `--help` shows defaults; `run_stack` refuses a busy port
before it claims to run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "DEBUG": "true", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO, env=environ, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["apify_sandbox", "--port", "99999"], "argument --port: 99999 is not a port (0-65535)"),
        (["run_dispatcher", "--interval", "-1"], "argument --interval: -1 is not above 0"),
        (["rebalance_schedules", "--interval", "-5"], "argument --interval: -5 is not at least 1"),
        (["run_stack", "--addr", "localhost:http"], "argument --addr: 'http' is not a whole"),
        (["run_stack", "--sandbox-failure-rate", "2"], "2 is not between 0 and 1"),
        (["import_businesses", "x.csv", "--chunk-size", "0"], "0 is not at least 1"),
    ],
)
def test_a_bad_option_is_one_line_and_exit_2(args: list[str], reason: str) -> None:
    result = manage(*args)
    assert result.returncode == 2
    assert reason in result.stderr
    assert "Traceback" not in result.stderr


def test_help_shows_the_defaults() -> None:
    out = manage("run_stack", "--help").stdout
    assert "(default: 127.0.0.1:8000)" in out and "(default: 8765)" in out
    out = manage("apify_sandbox", "--help").stdout
    assert "(default: 8765)" in out and "default 3" in out


def test_validate_on_sqlite_says_it_needs_postgresql(tmp_path: Path) -> None:
    result = manage("validate_global_schedules", DATABASE_URL=f"sqlite:///{tmp_path}/db.sqlite3")
    assert result.returncode == 2
    assert "checks with PostgreSQL's SQL; this database is sqlite" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_stack_on_a_busy_port_exits_1_before_starting(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = manage("run_stack", "--addr", f"127.0.0.1:{port}", SCHEDULER_VAR_DIR=str(tmp_path))
    assert result.returncode == 1
    assert f"the web address 127.0.0.1:{port} is taken" in result.stderr
    assert "running" not in result.stdout and "Traceback" not in result.stderr
