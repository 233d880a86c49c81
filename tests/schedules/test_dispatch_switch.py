"""The kill switch and pauses with an end (SPEC §7 Kill switch)."""

from __future__ import annotations

from datetime import timedelta

from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Team
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, Execution
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify

ADMIN = "/api/v1/admin"


def _due_google_reviews_batch(team: Team) -> Batch:
    (business,) = register_google(team, 1, scrape_types=["reviews"])
    batch = business.mappings.get().batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    return batch


def test_pausing_dispatch_stops_the_tick_and_the_starts_and_resuming_sends_them(
    admin_client_key: APIClient,
    alice: Team,
    fake_apify: FakeApify,
    django_capture_on_commit_callbacks,
) -> None:
    batch = _due_google_reviews_batch(alice)
    held = dispatch_tick().execution_ids  # dispatched just before the switch is thrown
    response = admin_client_key.post(f"{ADMIN}/dispatch/pause/", {"reason": "Apify incident"})
    assert response.status_code == 200
    assert response.json()["paused"] is True and response.json()["reason"] == "Apify incident"

    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    result = dispatch_tick()
    assert result.paused and result.claimed == 0
    assert execution_start(execution_id=held[0]) is None  # the start task ran: nothing taken
    assert Execution.objects.get(id=held[0]).state == ExecutionState.PENDING
    assert not [r for r in fake_apify.requests if r.method == "POST"]

    health = admin_client_key.get(f"{ADMIN}/health/").json()
    (check,) = [c for c in health["checks"] if c["name"] == "dispatch_switch"]
    assert check["status"] == "warning" and "Apify incident" in check["reason"]

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client_key.post(f"{ADMIN}/dispatch/resume/")
    assert response.status_code == 200 and response.json()["paused"] is False
    assert len(callbacks) == 1  # the held-back start is published again
    assert execution_start(execution_id=held[0]) == ExecutionState.RUNNING
    assert dispatch_tick().claimed == 1  # and the tick claims due batches again
    assert list(
        AuditEvent.objects.filter(object_type="schedules.dispatchswitch")
        .order_by("id")
        .values_list("action", "actor", "reason")
    ) == [
        ("dispatch.pause", "api-key:ops-tool", "Apify incident"),
        ("dispatch.resume", "api-key:ops-tool", ""),
    ]


def test_the_switch_refuses_what_its_state_forbids(admin_client_key: APIClient, db: None) -> None:
    assert admin_client_key.post(f"{ADMIN}/dispatch/resume/").status_code == 409
    response = admin_client_key.post(f"{ADMIN}/dispatch/pause/", {})
    assert response.status_code == 400 and "reason" in response.json()
    assert admin_client_key.post(f"{ADMIN}/dispatch/pause/", {"reason": "x"}).status_code == 200
    assert admin_client_key.post(f"{ADMIN}/dispatch/pause/", {"reason": "y"}).status_code == 409
    assert admin_client_key.get(f"{ADMIN}/dispatch/").json()["reason"] == "x"


def test_a_product_key_cannot_throw_the_switch(product_client: APIClient, db: None) -> None:
    assert product_client.post(f"{ADMIN}/dispatch/pause/", {"reason": "x"}).status_code == 403


def test_every_dashboard_page_shows_the_switch_when_it_is_on(
    admin_client_key: APIClient, client, django_user_model, db: None
) -> None:
    client.force_login(django_user_model.objects.create_user("op", password="x", is_staff=True))
    assert b"dispatch-paused" not in client.get("/dashboard/schedules/").content
    admin_client_key.post(f"{ADMIN}/dispatch/pause/", {"reason": "migration"})
    for page in ("/dashboard/", "/dashboard/schedules/", "/dashboard/executions/"):
        body = client.get(page).content.decode()
        assert 'id="dispatch-paused"' in body and "migration" in body, page


def test_a_pause_with_an_end_resumes_by_itself(admin_client_key: APIClient, alice: Team) -> None:
    batch = _due_google_reviews_batch(alice)
    until = db_now() + timedelta(hours=2)
    response = admin_client_key.post(
        f"{ADMIN}/schedules/{batch.id}/pause/", {"reason": "client asked", "until": until}
    )
    assert response.status_code == 200
    assert response.json()["status"] == "paused" and response.json()["paused_until"]
    assert dispatch_tick().resumed == 0  # not yet

    Batch.objects.filter(id=batch.id).update(paused_until=db_now() - timedelta(seconds=1))
    assert dispatch_tick().resumed == 1
    batch.refresh_from_db()
    assert (batch.status, batch.paused_until, batch.paused_reason) == (BatchStatus.ACTIVE, None, "")
    assert AuditEvent.objects.filter(action="batch.resume", actor="system").exists()


def test_a_pause_that_ends_in_the_past_is_a_400_and_changes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    batch = _due_google_reviews_batch(alice)
    response = admin_client_key.post(
        f"{ADMIN}/schedules/{batch.id}/pause/", {"until": db_now() - timedelta(minutes=1)}
    )
    assert response.status_code == 400 and "until" in response.json()
    assert Batch.objects.get(id=batch.id).status == BatchStatus.ACTIVE
