"""The audit log on the dashboard: who did what to which object, before/after, filters."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import Page, expect

from access.models import AuditEvent
from schedules.services.executions import execution_cancel
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.test_executions import triggered_execution


@pytest.mark.django_db(transaction=True)
def test_the_audit_log_shows_who_did_what_before_and_after(page: Page, operator) -> None:
    execution = triggered_execution()
    execution_cancel(execution_id=execution.id, actor="operator", reason="wrong batch")
    log_in(page)

    page.goto("/dashboard/audit-log/")
    rows = page.get_by_test_id("audit-row")
    expect(rows).to_have_count(2)  # batch.trigger by "x", then execution.cancel
    cancel = rows.first  # newest first
    expect(cancel).to_contain_text("operator")
    expect(cancel).to_contain_text("execution.cancel")
    expect(cancel).to_contain_text("schedules.execution")
    expect(cancel).to_contain_text("wrong batch")
    expect(cancel.get_by_test_id("audit-before")).to_have_text('{"state": "pending"}')
    expect(cancel.get_by_test_id("audit-after")).to_have_text('{"state": "cancelled"}')
    expect(cancel.get_by_role("link")).to_have_attribute(
        "href", f"/dashboard/executions/{execution.id}/"
    )
    expect(rows.nth(1)).to_contain_text("batch.trigger")
    screenshot(page, "audit-log")

    page.get_by_label("Action").select_option("batch.trigger")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("batch.trigger")

    page.goto("/dashboard/audit-log/?actor=operator")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("execution.cancel")
    page.goto("/dashboard/audit-log/?object_type=schedules.batch")
    expect(rows).to_have_count(1)
    page.goto("/dashboard/audit-log/?actor=nobody")
    expect(page.get_by_text("No event matches these filters.")).to_be_visible()


def _add_events(count: int, start: int) -> None:
    types = ["schedules.batch", "schedules.execution", "businesses.business", "businesses.team"]
    AuditEvent.objects.bulk_create(
        AuditEvent(
            actor=f"op{n % 3}",
            action=f"thing.{n % 5}",
            object_type=types[n % 4],
            object_id=str(n) if n % 4 != 1 else f"00000000-0000-0000-0000-{n:012d}",
            before={"state": "active", "n": n},
            after={"state": "paused", "n": n},
            reason="because" * (n % 2),
        )
        for n in range(start, start + count)
    )


def test_the_audit_log_costs_the_same_queries_with_10_and_200_rows(
    db, client, django_user_model
) -> None:
    client.force_login(django_user_model.objects.create_user("op", is_staff=True))

    def queries() -> int:
        client.get("/dashboard/audit-log/")
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/dashboard/audit-log/")
        assert response.status_code == 200
        return len(captured)

    _add_events(10, 0)
    few = queries()
    _add_events(190, 10)
    many = queries()
    assert AuditEvent.objects.count() == 200
    assert few == many
