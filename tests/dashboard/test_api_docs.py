"""The API docs page in Chromium: served from the project, so it renders with every other
host cut off, and under the Content-Security-Policy (the `page` fixture fails a test on any
violation)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import Page, Route, expect

from tests.dashboard.conftest import log_in, screenshot


def cut_off_other_hosts(page: Page, live_server) -> list[str]:
    """Aborts every request to a host other than the live server's; returns their URLs."""
    host = urlsplit(live_server.url).netloc
    refused: list[str] = []

    def handle(route: Route) -> None:
        if urlsplit(route.request.url).netloc == host:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.context.route("**/*", handle)
    return refused


def test_swagger_ui_renders_offline_for_an_operator(page: Page, operator, live_server) -> None:
    refused = cut_off_other_hosts(page, live_server)
    log_in(page)
    page.goto("/api/v1/docs/")

    docs = page.locator("#swagger-ui")
    expect(docs.get_by_role("heading", name="Global Scheduler API")).to_be_visible()
    # Both halves of the API: an operator's schema is the whole of it.
    expect(docs.locator(".opblock-tag", has_text="teams")).to_be_visible()
    expect(docs.get_by_text("/api/v1/admin/schedules/{batch_id}/", exact=True)).to_be_visible()
    # Each operation deep-links by its operationId.
    expect(docs.locator('a[href="#/teams/team_businesses_create"]')).to_be_visible()
    screenshot(page, "api-docs-swagger")
    assert refused == []


def test_the_docs_send_a_browser_to_the_login_and_back(page: Page, operator, live_server) -> None:
    page.goto("/api/v1/docs/")
    expect(page).to_have_url(f"{live_server.url}/dashboard/login/?next=/api/v1/docs/")

    page.get_by_label("User name").fill("operator")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/api/v1/docs/")
    expect(page.locator("#swagger-ui .opblock-tag", has_text="admin")).to_be_visible()
