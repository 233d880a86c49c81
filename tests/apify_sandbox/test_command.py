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
        "--token",
    ):
        assert option in text
    assert "APIFY_API_URL" in text and "Probability (0-1)" in text


@pytest.mark.parametrize("argv", [["--failure-rate", "1.5"], ["--delay", "-1"]])
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
