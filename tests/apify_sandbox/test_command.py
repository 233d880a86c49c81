"""`manage.py apify_sandbox`: its knobs, and a real process that serves until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apify_client import ApifyClient
from django.core.management import call_command
from django.core.management.base import CommandError

from apify_sandbox.management.commands.apify_sandbox import Command

REPO = Path(__file__).resolve().parents[2]
# Run the command class directly: it works whether or not "apify_sandbox" is in INSTALLED_APPS.
LAUNCH = (
    "import django, sys; django.setup(); "
    "from apify_sandbox.management.commands.apify_sandbox import Command; "
    "Command().run_from_argv(['manage.py', 'apify_sandbox', *sys.argv[1:]])"
)


def test_help_explains_every_knob() -> None:
    text = Command().create_parser("manage.py", "apify_sandbox").format_help()

    for option in (
        "--port",
        "--delay",
        "--seed",
        "--failure-rate",
        "--error-item-rate",
        "--duplicate-webhook-rate",
        "--lost-webhook-rate",
        "--rate-limit-rate",
        "--hostile",
        "--token",
    ):
        assert option in text
    assert "APIFY_API_URL" in text and "Probability (0-1)" in text


@pytest.mark.parametrize(
    "argv",
    [
        ["--failure-rate", "1.5"],
        ["--delay", "-1"],
        ["--hostile", "latency=0.1,volcano=3"],
        ["--hostile", "error-burst=5/5"],
    ],
)
def test_out_of_range_knobs_are_refused(argv: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command(Command(), *argv)


def test_the_command_prints_its_url_serves_runs_and_stops_on_sigterm() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "NO_PROXY": "127.0.0.1"}
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, "--port", "0", "--delay", "0", "--token", "cmd-token"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        first = process.stdout.readline()
        assert "Apify sandbox listening on http://127.0.0.1:" in first, first
        url = first.rsplit(" ", 1)[-1].strip()
        client = ApifyClient("cmd-token", api_url=url, max_retries=0)
        run = client.actor("compass/google-maps-reviews-scraper").start(
            run_input={"placeIds": ["ChIJcommand0000000000001"], "maxReviews": 5}
        )
        deadline = time.monotonic() + 5
        while client.run(run.id).get().status != "SUCCEEDED":
            assert time.monotonic() < deadline
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0, output
    assert f"run {run.id} SUCCEEDED" in output
    assert "Stopped after 1 run(s)" in output


def test_help_shows_the_account_limits_and_their_defaults() -> None:
    text = " ".join(Command().create_parser("manage.py", "apify_sandbox").format_help().split())

    for option in ("--max-memory-gbytes", "--max-concurrent-runs", "--max-monthly-usage-usd"):
        assert option in text
    assert "(default 32, a small plan)" in text and "(default 1000)" in text


def test_account_limit_options_reach_the_sandbox() -> None:
    parser = Command().create_parser("manage.py", "apify_sandbox")
    argv = ["--port", "0", "--max-memory-gbytes", "0.5", "--max-concurrent-runs", "3"]
    options = vars(parser.parse_args([*argv, "--max-monthly-usage-usd", "0"]))

    sandbox = Command._sandbox("t", None, options)
    try:
        account = sandbox.account
    finally:
        sandbox.stop()
    assert (account.max_memory_mbytes, account.max_concurrent_runs) == (512, 3)
    assert account.max_monthly_usage_usd == 0.0
    defaults = Command._sandbox("t", None, vars(parser.parse_args(["--port", "0"])))
    defaults.stop()
    assert (defaults.account.max_memory_mbytes, defaults.account.max_concurrent_runs) == (32768, 32)


@pytest.mark.parametrize(
    "argv",
    [
        ["--max-memory-gbytes", "0"],
        ["--max-memory-gbytes", "-2"],
        ["--max-memory-gbytes", "lots"],
        ["--max-memory-gbytes", "inf"],
        ["--max-concurrent-runs", "0"],
        ["--max-concurrent-runs", "2.5"],
        ["--max-monthly-usage-usd", "-1"],
        ["--max-monthly-usage-usd", "nan"],
    ],
)
def test_out_of_range_account_limits_are_refused(argv: list[str]) -> None:
    with pytest.raises(CommandError, match=argv[0]):
        call_command(Command(), *argv)


def test_a_bad_limit_on_the_command_line_is_a_usage_error_not_a_traceback() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, "--max-concurrent-runs", "0"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "error: argument --max-concurrent-runs: 0 is not at least 1" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_command_serves_the_account_limits_it_was_given() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "NO_PROXY": "127.0.0.1"}
    argv = ["--port", "0", "--token", "cmd-token", "--max-memory-gbytes", "2"]
    process = subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *argv, "--max-concurrent-runs", "1"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = process.stdout.readline().rsplit(" ", 1)[-1].strip()
        account = ApifyClient("cmd-token", api_url=url, max_retries=0).user().limits()
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    assert account.limits.max_actor_memory_gbytes == 2.0
    assert account.limits.max_concurrent_actor_jobs == 1
    assert "Account limits: 2048 MB of run memory, 1 concurrent runs" in output
