"""The Django admin in Chromium under the site's Content-Security-Policy: its pages need no
exception (the `page` fixture fails a test on any violation)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from playwright.sync_api import Page, expect

from businesses.models import Team
from tests.dashboard.conftest import PASSWORD


def test_the_admin_works_under_the_policy(page: Page, django_user_model, alice: Team) -> None:
    django_user_model.objects.create_superuser("root", password=PASSWORD)
    page.goto("/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(
        page.get_by_role("link", name="Log out").or_(page.get_by_text("Log out"))
    ).to_be_visible()

    for model in admin.site._registry:
        opts = model._meta
        page.goto(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        expect(page.locator("#changelist, #content-main").first).to_be_visible()

    # A change form runs the admin's widgets (selects, date and time shortcuts, related links).
    page.goto(reverse("admin:businesses_team_change", args=[alice.pk]))
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()
    page.goto(reverse("admin:businesses_custominterval_add"))
    page.get_by_role("link", name="Today").click()
    expect(page.locator("#id_expires_at_0")).not_to_have_value("")
    page.get_by_role("link", name="Choose a Date").click()
    expect(page.locator(".calendarbox").first).to_be_visible()
