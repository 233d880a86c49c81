"""A newcomer's first run: a fresh clone, `python manage.py run_stack` on the embedded default
(no database, no broker, no secrets configured), then the dashboard reached from `/` with the demo
operator's printed password shows executions, reviews and a retry within 60 s."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.web_server import free_port

REPO = Path(__file__).resolve().parents[2]
PREFIXES = ("web    | ", "worker | ", "beat   | ", "sandbox| ")

pytestmark = pytest.mark.integration


def _reader(process: subprocess.Popen, lines: list[str]) -> None:
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


def _wait(predicate, timeout: float, what: str, lines: list[str]) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not within {timeout}s; output:\n" + "\n".join(lines[-60:]))


def test_run_stack_leads_a_newcomer_to_a_working_dashboard(tmp_path: Path) -> None:
    port, sandbox_port = free_port(), free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "DEBUG", "DJANGO_SETTINGS_MODULE")
    }
    env["SCHEDULER_VAR_DIR"] = str(tmp_path / "var")
    checkout = _fresh_clone(tmp_path)
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_stack", f"--addr=127.0.0.1:{port}",
         f"--sandbox-port={sandbox_port}", "--sandbox-delay=2"],
        cwd=checkout, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: list[str] = []
    threading.Thread(target=_reader, args=(process, lines), daemon=True).start()
    base = f"http://127.0.0.1:{port}"
    try:
        banner = _wait(
            lambda: next((m for line in lines if (m := re.search(
                r"log in as (\w+) / (\S+)", line))), None),
            60, "the banner with the demo operator", lines,
        )  # fmt: skip
        assert any(f"Dashboard: {base}/dashboard/" in line for line in lines)
        user, password = banner.group(1), banner.group(2)
        with httpx.Client(base_url=base, follow_redirects=True, timeout=10) as browser:
            login = _wait(lambda: _get(browser, "/"), 30, "the web server", lines)
            assert "/dashboard/login/" in str(login.url)  # `/` leads to the dashboard
            token = browser.cookies["csrftoken"]
            answer = browser.post(
                str(login.url),
                data={"username": user, "password": password, "csrfmiddlewaretoken": token},
                headers={"Referer": str(login.url)},
            )
            assert answer.status_code == 200 and "/login/" not in str(answer.url)
            _wait(lambda: "succeeded" in browser.get("/dashboard/executions/").text,
                  60, "a succeeded execution", lines)  # fmt: skip
            _wait(lambda: _has_retry(browser), 60, "a retry entry", lines)
            _wait(lambda: _has_reviews(browser), 30, "a business with reviews", lines)
    finally:
        process.terminate()
        process.wait(timeout=30)
    after_banner = lines[next(i for i, line in enumerate(lines) if "Ctrl-C" in line) + 1 :]
    assert after_banner and all(line.startswith(PREFIXES) for line in after_banner)
    stamped = [line for line in after_banner if re.match(r"^\S+\s*\| \d{4}-\d\d-\d\d ", line)]
    assert stamped, "no line in the one log format"


def _fresh_clone(tmp_path: Path) -> Path:
    """What a newcomer gets: the committed files only (nothing of this checkout's var/, no
    untracked file), run with the README's command in this environment's interpreter."""
    if not (REPO / ".git").exists():
        return REPO
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True, timeout=60)
    return clone


def _get(browser: httpx.Client, path: str) -> httpx.Response | None:
    try:
        return browser.get(path)
    except httpx.TransportError:
        return None


def _has_retry(browser: httpx.Client) -> bool:
    return "<tr data-entry=" in browser.get("/dashboard/retry-queue/").text


def _has_reviews(browser: httpx.Client) -> bool:
    """Some business's page lists scraped reviews."""
    listing = browser.get("/dashboard/businesses/").text
    for business_id in dict.fromkeys(re.findall(r'href="/dashboard/businesses/(\d+)/"', listing)):
        page = browser.get(f"/dashboard/businesses/{business_id}/").text
        if 'data-testid="reviews"' in page and "No review scraped yet." not in page:
            return True
    return False
