"""The dashboard's shell: dark mode from the system setting, a layout usable 420 px wide, the
styled 403/404/500 pages (JSON still on API paths) and the favicon."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory
from playwright.sync_api import Page, expect

from businesses.models import Business, CustomInterval
from notifications.services.alerts import redacted
from retry.models import RetryEntry
from scheduler_project.views import PLAIN_SERVER_ERROR, server_error
from schedules.states import ExecutionState
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.test_executions import finished_execution, triggered_execution
from tests.dashboard.test_notifications import alert, delivery, endpoint, result

NARROW = {"width": 420, "height": 900}
ALERT_CHANNEL = "json://ops:secret@127.0.0.1:9/ops"
LONG_ERROR = "Apify run FAILED: the actor ran out of memory while scrolling the reviews " * 3


def fill_every_page(settings) -> dict[str, str]:
    """Rows on every dashboard page, with long names and errors; name → URL."""
    settings.ALERT_URLS = ALERT_CHANNEL
    active = triggered_execution(team_id="alice", businesses=3)  # the trigger is audited
    failed = finished_execution(
        active.batch,
        minutes_ago=60,
        state=ExecutionState.FAILED,
        business_count=3,
        items_count=12,
        attributed_count=9,
        failed_count=3,
        usage_usd="0.012345",
        apify_run_id="HG7ML7M8z78YcAPEB",
        error=LONG_ERROR,
    )
    business = Business.objects.filter(team_id="alice").order_by("id").first()
    Business.objects.filter(id=business.id).update(
        name="Harbour Hotel & Spa on the Old Quay, by the Lighthouse",
        last_status="failed",
        last_error=LONG_ERROR,
    )
    RetryEntry.objects.create(
        business=business, scrape_type="reviews", state="dead", attempts=3, last_error=LONG_ERROR
    )
    CustomInterval.objects.create(
        team_id="alice", interval_minutes=60, reason="Busy season", created_by="operator"
    )
    hooks = endpoint(team_id="alice")
    delivery(hooks, minutes_ago=5, state="failed", attempts=2, last_error=LONG_ERROR)
    channel = redacted(ALERT_CHANNEL)
    alert("[CRITICAL] health check queues", channels={channel: result(False, LONG_ERROR)})
    return {
        "overview": "/dashboard/",
        "schedules": "/dashboard/schedules/",
        "schedule": f"/dashboard/schedules/{active.batch_id}/",
        "teams": "/dashboard/teams/",
        "team": "/dashboard/teams/alice/",
        "businesses": "/dashboard/businesses/",
        "business": f"/dashboard/businesses/{business.id}/",
        "retry-queue": "/dashboard/retry-queue/",
        "executions": "/dashboard/executions/",
        "execution": f"/dashboard/executions/{failed.id}/",
        "audit-log": "/dashboard/audit-log/",
        "notifications": "/dashboard/notifications/",
        "search": "/dashboard/search/?q=alice",
        "not-found": "/dashboard/businesses/999999/",
    }


def with_nav_pages(page: Page, urls: dict[str, str]) -> dict[str, str]:
    """The pages above plus any the top navigation links to (pages added later too)."""
    hrefs = page.locator(".topbar nav a").evaluate_all("links => links.map(a => a.pathname)")
    known = set(urls.values())
    return {
        **urls,
        **{href.strip("/").replace("/", "-"): href for href in hrefs if href not in known},
    }


def _rgb(css: str) -> tuple[float, ...]:
    return tuple(float(v) for v in re.findall(r"[\d.]+", css)[:3])


def luminance(css: str) -> float:
    """WCAG relative luminance of a computed `rgb(...)` colour: 0 black, 1 white."""
    linear = [c / 255 / 12.92 if c <= 10 else ((c / 255 + 0.055) / 1.055) ** 2.4 for c in _rgb(css)]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


# Visible elements with text of their own whose colour is too close to the background behind
# them (the first opaque one up the tree): a light background left in dark mode shows here.
LOW_CONTRAST = """
(minimum) => {
  const rgb = (css) => (css.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (; el; el = el.parentElement) {
      const c = rgb(getComputedStyle(el).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const found = [];
  for (const el of document.querySelectorAll("body *")) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length) continue;
    const a = lum(rgb(getComputedStyle(el).color)), b = lum(behind(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < minimum) found.push(`${el.tagName.toLowerCase()}.${el.className}: ` +
      `"${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)}`);
  }
  return found;
}
"""

# What sticks out past the right edge of the window outside any scrolling container.
WIDER_THAN_WINDOW = """
() => {
  const width = window.innerWidth;
  const clipped = (el) => {
    for (el = el.parentElement; el && el !== document.body; el = el.parentElement) {
      if (getComputedStyle(el).overflowX !== "visible") return true;
    }
    return false;
  };
  return [...document.querySelectorAll("body *")]
    .filter((el) => el.getBoundingClientRect().right > width + 1 && !clipped(el))
    .slice(0, 5)
    .map((el) => `${el.tagName.toLowerCase()}.${el.className} ` +
      `(${Math.round(el.getBoundingClientRect().right)} px)`);
}
"""


def page_scrolls_sideways(page: Page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth > window.innerWidth")


@pytest.mark.django_db(transaction=True)
def test_every_page_is_dark_when_the_system_is(page: Page, operator, settings) -> None:
    urls = fill_every_page(settings)
    page.emulate_media(color_scheme="dark")
    page.goto("/dashboard/login/")
    body = page.locator("body")
    assert luminance(body.evaluate("b => getComputedStyle(b).backgroundColor")) < 0.05
    screenshot(page, "shell-dark-login")
    log_in(page)
    expect(page.locator(".topbar nav")).to_be_visible()

    unreadable = {}
    for name, url in with_nav_pages(page, urls).items():
        page.goto(url)
        style = body.evaluate(
            "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
        )
        assert luminance(style[0]) < 0.05, f"{name}: body background {style[0]}"
        assert luminance(style[1]) > 0.7, f"{name}: body text {style[1]}"
        card = page.locator(".card").first
        if card.count():
            assert luminance(card.evaluate("c => getComputedStyle(c).backgroundColor")) < 0.05
        if low := page.evaluate(LOW_CONTRAST, 3):
            unreadable[name] = low
        if name in ("overview", "executions", "business", "team", "not-found"):
            screenshot(page, f"shell-dark-{name}")
    assert unreadable == {}, f"text too close to its background in dark mode: {unreadable}"


@pytest.mark.django_db(transaction=True)
def test_light_mode_is_unchanged(page: Page, operator) -> None:
    page.emulate_media(color_scheme="light")
    page.goto("/dashboard/login/")
    colours = page.locator("body").evaluate(
        "b => [getComputedStyle(b).backgroundColor, getComputedStyle(b).color]"
    )
    assert colours == ["rgb(246, 247, 249)", "rgb(29, 35, 48)"]


@pytest.mark.django_db(transaction=True)
def test_no_page_scrolls_sideways_at_420_px(page: Page, operator, settings) -> None:
    urls = fill_every_page(settings)
    page.set_viewport_size(NARROW)
    page.goto("/dashboard/login/")
    assert not page_scrolls_sideways(page)
    log_in(page)
    expect(page.locator(".topbar nav")).to_be_visible()
    nav = page.locator(".topbar nav")
    assert nav.bounding_box()["width"] <= NARROW["width"]  # wrapped onto lines of its own

    wide = {}
    for name, url in with_nav_pages(page, urls).items():
        page.goto(url)
        if page_scrolls_sideways(page):
            wide[name] = page.evaluate(WIDER_THAN_WINDOW)
        if name in ("overview", "executions", "execution", "business", "schedule", "search"):
            screenshot(page, f"shell-420px-{name}")
    assert wide == {}, f"pages wider than a 420 px window: {wide}"

    page.goto(urls["executions"])  # the wide table scrolls inside its own box instead
    table = page.locator("table").first
    assert table.evaluate("t => t.scrollWidth") > NARROW["width"]


# --- Error pages -----------------------------------------------------------------------------


def _styled(page: Page, status: int, title: str) -> None:
    card = page.get_by_test_id("error-page")
    expect(card).to_contain_text(str(status))
    expect(card.get_by_role("heading", name=title)).to_be_visible()
    background = page.locator("body").evaluate("b => getComputedStyle(b).backgroundColor")
    assert background == "rgb(246, 247, 249)"  # dashboard.css loaded (and nothing inline)
    assert page.locator('link[rel="icon"]').get_attribute("href").endswith("favicon.svg")


@pytest.mark.django_db(transaction=True)
def test_a_missing_business_is_a_styled_404(page: Page, operator) -> None:
    log_in(page)
    response = page.goto("/dashboard/businesses/999999/")
    assert response.status == 404
    _styled(page, 404, "Page not found")
    expect(page.get_by_test_id("error-page")).to_contain_text("/dashboard/businesses/999999/")
    expect(page.locator(".topbar nav")).to_be_visible()  # the operator's own top bar
    screenshot(page, "shell-404")
    page.get_by_role("link", name="Back to the overview").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


@pytest.mark.django_db(transaction=True)
def test_a_non_staff_user_gets_a_styled_403_and_can_log_out(page: Page, live_server) -> None:
    client = Client()
    client.force_login(get_user_model().objects.create_user("viewer"))
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
    response = page.goto("/dashboard/")
    assert response.status == 403
    _styled(page, 403, "Access denied")
    expect(page.get_by_test_id("error-page")).to_contain_text("logged in as viewer")
    screenshot(page, "shell-403")
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


@pytest.mark.django_db(transaction=True)
def test_an_expired_form_is_a_styled_403(page: Page, operator) -> None:
    page.goto("/dashboard/login/")
    page.context.clear_cookies()  # the CSRF cookie is gone: the form's token matches nothing
    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill("whatever")
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 403
    _styled(page, 403, "Form expired")


@pytest.mark.django_db(transaction=True)
def test_a_failing_view_is_a_styled_500(page: Page, operator, settings) -> None:
    settings.ROOT_URLCONF = "tests.dashboard.urls_with_errors"
    settings.DEBUG = False
    log_in(page)
    response = page.goto("/dashboard/boom/")
    assert response.status == 500
    _styled(page, 500, "Server error")
    expect(page.locator(".topbar nav")).to_have_count(0)  # rendered without the request
    screenshot(page, "shell-500")


def test_the_500_page_needs_no_database_user_or_session() -> None:
    """No `db` fixture: any query would raise, and the handler would fall back to plain text."""
    response = server_error(RequestFactory().get("/dashboard/anything/"))
    assert response.status_code == 500
    assert b'data-testid="error-page"' in response.content
    assert PLAIN_SERVER_ERROR.encode() not in response.content


def test_api_paths_still_answer_json(db, settings) -> None:
    settings.ROOT_URLCONF = "tests.dashboard.urls_with_errors"
    client = Client(raise_request_exception=False)
    assert client.get("/api/v1/boom/").json() == {"detail": "Server error."}
    assert client.get("/api/v1/nothing-here/").json() == {"detail": "Not found."}
    page = client.get("/dashboard/boom/")
    assert page.status_code == 500 and page["Content-Type"].startswith("text/html")
    missing = client.get("/no-such-page/")
    assert missing.status_code == 404 and b'data-testid="error-page"' in missing.content


# --- Favicon ---------------------------------------------------------------------------------


def test_favicon_ico_redirects_to_the_svg(client, db) -> None:
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/dashboard/favicon.svg"


@pytest.mark.django_db(transaction=True)
def test_the_favicon_is_served_and_linked(page: Page) -> None:
    response = page.goto("/favicon.ico")
    assert response.status == 200 and response.url.endswith("/static/dashboard/favicon.svg")
    assert response.headers["content-type"].startswith("image/svg+xml")
    page.goto("/dashboard/login/")
    href = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(href).status == 200
