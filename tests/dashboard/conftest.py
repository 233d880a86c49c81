"""Browser tests: Debian's Chromium driven by Playwright against pytest-django's live server.

Screenshots of each page land in artifacts/screenshots/ (kept out of git).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in this thread; Django's guard against database
# calls from async code would refuse the live server's fixtures otherwise.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PASSWORD = "correct horse battery staple"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


# What Chromium logs when the Content-Security-Policy refuses something, and what the page's
# own listener (REPORT_VIOLATIONS) logs for each `securitypolicyviolation` event.
CSP_MARKERS = ("Content Security Policy", "Content-Security-Policy", "Refused to")
# An init script runs before the page's own and is not subject to its policy.
REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (event) => {
  const what = `${event.violatedDirective} ${event.blockedURI}`;
  console.error(`Content Security Policy violation: ${what}`);
});
"""


@pytest.fixture
def page(browser: Browser, live_server) -> Iterator[Page]:
    """A fresh browser context on the live server; a test fails at teardown if any page it
    opened broke the Content-Security-Policy (the dashboard must need no exception)."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1366, "height": 860})
    context.add_init_script(REPORT_VIOLATIONS)
    page = context.new_page()
    page.set_default_timeout(10_000)
    violations: list[str] = []

    def note(text: str) -> None:
        if any(marker in text for marker in CSP_MARKERS):
            violations.append(text)

    context.on("console", lambda message: note(message.text))
    context.on("weberror", lambda error: note(str(error.error)))
    yield page
    context.close()
    assert violations == [], f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user("operator", password=PASSWORD, is_staff=True)


def log_in(page: Page, username: str = "operator", password: str = PASSWORD) -> None:
    page.goto("/dashboard/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
