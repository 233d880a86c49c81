"""Operators' API on schedules (batches): read, trigger, pause, resume, rebalance, consolidate."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Team
from businesses.services import BusinessRow, businesses_bulk_register
from schedules.models import Batch, Execution, Mapping, ScheduleGroup
from schedules.services.batches import BATCH_BUSY, BATCH_NOT_ACTIVE, BATCH_NOT_PAUSED
from tests.api.admin_helpers import (
    ADMIN,
    batch_of,
    db_fingerprint,
    executions_bulk,
    make_execution,
)
from tests.conftest import place_id, register_google

SCHEDULES = f"{ADMIN}/schedules"


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- reads -----------------------------------------------------------------------------------


def test_list_shows_every_batch_with_utilisation_and_filters(
    admin_client_key: APIClient, alice: Team, bob: Team
) -> None:
    register_google(alice, 2)
    register_google(bob, 1)
    body = admin_client_key.get(f"{SCHEDULES}/").json()
    assert body["count"] == Batch.objects.count() == 4  # 2 teams' intervals × 2 scrape types
    row = next(
        r for r in body["results"] if (r["scrape_type"], r["interval_minutes"]) == ("reviews", 720)
    )
    batch = Batch.objects.get(id=row["id"])
    assert row["business_count"] == batch.business_count == 2
    assert row["utilisation"] == 2 / batch.capacity
    assert (row["platform"], row["status"], row["batch_index"]) == ("google", "active", 0)
    for field in ("next_run_at", "last_run_at", "misfire_policy", "overlap_policy"):
        assert field in row
    assert row["paused_reason"] == "" and row["missed_runs_count"] == 0

    body = admin_client_key.get(f"{SCHEDULES}/?interval=1440&scrape_type=overview").json()
    assert [(r["interval_minutes"], r["scrape_type"]) for r in body["results"]] == [
        (1440, "overview")
    ]
    Batch.objects.filter(id=batch.id).update(status="paused")
    body = admin_client_key.get(f"{SCHEDULES}/?status=paused&platform=google").json()
    assert [r["id"] for r in body["results"]] == [batch.id]
    assert admin_client_key.get(f"{SCHEDULES}/?platform=booking").json()["results"] == []


@pytest.mark.parametrize(
    "query, field",
    [("platform=myspace", "platform"), ("status=gone", "status"), ("interval=soon", "interval")],
)
def test_a_bad_list_filter_is_400_naming_it(
    admin_client_key: APIClient, groups: None, query: str, field: str
) -> None:
    response = admin_client_key.get(f"{SCHEDULES}/?{query}")
    assert response.status_code == 400
    assert field in response.json()


def test_the_staff_session_reads_the_list(staff_client: APIClient, alice: Team) -> None:
    register_google(alice)
    response = staff_client.get(f"{SCHEDULES}/")
    assert response.status_code == 200 and response.json()["count"] == 2


def test_list_queries_do_not_grow_with_batches(admin_client_key: APIClient, groups: None) -> None:
    def queries_for(interval: int, count: int) -> int:
        group = ScheduleGroup.objects.create(
            platform="booking", scrape_type="reviews", interval_minutes=interval
        )
        Batch.objects.bulk_create(
            Batch(group=group, batch_index=i, capacity=100, next_run_at=timezone.now())
            for i in range(count)
        )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{SCHEDULES}/?interval={interval}&limit=500")
        assert len(response.json()["results"]) == count
        return len(ctx.captured_queries)

    assert queries_for(100, 10) == queries_for(200, 200)


def test_detail_shows_the_next_ten_runs_on_its_grid_and_its_last_executions(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    old = make_execution(batch, ago=timedelta(hours=2), state="failed")
    new = make_execution(batch, ago=timedelta(hours=1))
    body = admin_client_key.get(f"{SCHEDULES}/{batch.id}/").json()
    runs = [_parse(r) for r in body["next_runs"]]
    assert len(runs) == 10
    assert runs[0] >= batch.next_run_at
    assert {b - a for a, b in itertools.pairwise(runs)} == {timedelta(minutes=720)}
    assert [e["id"] for e in body["last_executions"]] == [str(new.id), str(old.id)]
    assert body["execution_counts"] == {"failed": 1, "succeeded": 1}
    assert body["interval_minutes"] == 720 and body["business_count"] == 1


def test_a_retired_batch_has_no_next_runs(admin_client_key: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    Batch.objects.filter(id=batch.id).update(status="retired")
    assert admin_client_key.get(f"{SCHEDULES}/{batch.id}/").json()["next_runs"] == []


@pytest.mark.parametrize("suffix", ["", "businesses/", "executions/"])
def test_an_unknown_schedule_is_404(admin_client_key: APIClient, groups: None, suffix) -> None:
    response = admin_client_key.get(f"{SCHEDULES}/999999/{suffix}")
    assert response.status_code == 404
    assert "detail" in response.json()


def test_businesses_of_a_schedule_are_paginated_with_their_team(
    admin_client_key: APIClient, alice: Team
) -> None:
    first, _second = register_google(alice, 2)
    batch = batch_of(first)
    body = admin_client_key.get(f"{SCHEDULES}/{batch.id}/businesses/?limit=1").json()
    assert body["count"] == 2 and body["next"]
    assert body["results"][0]["id"] == first.id
    assert body["results"][0]["team_id"] == "alice"
    assert body["results"][0]["scrape_type"] == "reviews"


def test_schedule_businesses_queries_do_not_grow(admin_client_key: APIClient, groups: None) -> None:
    def queries_for(team_id: str, count: int) -> int:
        Team.objects.create(team_id=team_id, tier="free")
        businesses_bulk_register(
            rows=[BusinessRow(team_id, "google", place_id()) for _ in range(count)],
            scrape_types=["reviews"],
        )
        batch = Mapping.objects.filter(team_id=team_id).first().batch
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{SCHEDULES}/{batch.id}/businesses/?limit=500")
        assert len(response.json()["results"]) == count
        return len(ctx.captured_queries)

    assert queries_for("ten", 10) == queries_for("two-hundred", 200)


def test_executions_of_a_schedule_are_newest_first(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    older = make_execution(batch, ago=timedelta(hours=1))
    newer = make_execution(batch, trigger="manual")
    make_execution(batch_of(business, "overview"))  # another batch's
    body = admin_client_key.get(f"{SCHEDULES}/{batch.id}/executions/").json()
    assert [e["id"] for e in body["results"]] == [str(newer.id), str(older.id)]
    assert body["results"][0]["schedule_id"] == batch.id


def test_schedule_executions_queries_do_not_grow(admin_client_key: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)

    def queries_for(batch: Batch, count: int) -> int:
        executions_bulk(batch, count)
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{SCHEDULES}/{batch.id}/executions/?limit=500")
        assert len(response.json()["results"]) == count
        return len(ctx.captured_queries)

    assert queries_for(batch_of(business, "reviews"), 10) == queries_for(
        batch_of(business, "overview"), 200
    )


# --- trigger, pause, resume ------------------------------------------------------------------


def test_trigger_answers_202_with_a_manual_execution_and_audits_it(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    next_run_at = batch.next_run_at
    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/trigger/")
    assert response.status_code == 202
    execution = Execution.objects.get()
    assert response.json()["id"] == str(execution.id)
    assert (execution.trigger, execution.state, execution.batch_id) == (
        "manual",
        "pending",
        batch.id,
    )
    batch.refresh_from_db()
    assert batch.next_run_at == next_run_at  # its slot is untouched
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_id) == (
        "api-key:ops-tool",
        "batch.trigger",
        str(batch.id),
    )


def test_trigger_of_a_busy_batch_is_409_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    make_execution(batch, state="running")
    before = db_fingerprint()
    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/trigger/")
    assert response.status_code == 409
    assert response.json() == {"detail": BATCH_BUSY}
    assert db_fingerprint() == before


@pytest.mark.parametrize("action", ["trigger", "pause", "resume"])
def test_a_write_on_an_unknown_schedule_is_404(
    admin_client_key: APIClient, groups: None, action: str
) -> None:
    response = admin_client_key.post(f"{SCHEDULES}/999999/{action}/")
    assert response.status_code == 404
    assert not AuditEvent.objects.exists() and not Execution.objects.exists()


def test_pause_then_resume_with_audit(admin_client_key: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/pause/", {"reason": "Apify quota"})
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["paused_reason"]) == (
        "paused",
        "Apify quota",
    )
    batch.refresh_from_db()
    assert (batch.status, batch.paused_reason) == ("paused", "Apify quota")

    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/resume/")
    assert response.status_code == 200 and response.json()["status"] == "active"
    batch.refresh_from_db()
    assert (batch.status, batch.paused_reason) == ("active", "")
    events = list(AuditEvent.objects.order_by("id").values_list("action", "reason", "actor"))
    assert events == [
        ("batch.pause", "Apify quota", "api-key:ops-tool"),
        ("batch.resume", "", "api-key:ops-tool"),
    ]


def test_a_staff_user_pauses_with_a_csrf_token_and_is_the_audited_actor(
    staff_client: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    refused = staff_client.post(f"{SCHEDULES}/{batch.id}/pause/")
    assert refused.status_code == 403  # no CSRF token
    token = "t" * 32
    staff_client.cookies["csrftoken"] = token
    response = staff_client.post(f"{SCHEDULES}/{batch.id}/pause/", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert AuditEvent.objects.get().actor == "operator"


def test_pausing_a_paused_batch_and_resuming_an_active_one_are_409(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    before = db_fingerprint()
    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/resume/")
    assert response.status_code == 409
    assert response.json()["detail"] == BATCH_NOT_PAUSED.format(status="active")
    assert db_fingerprint() == before

    Batch.objects.filter(id=batch.id).update(status="paused", paused_reason="x")
    before = db_fingerprint()
    response = admin_client_key.post(f"{SCHEDULES}/{batch.id}/pause/", {"reason": "again"})
    assert response.status_code == 409
    assert response.json()["detail"] == BATCH_NOT_ACTIVE.format(status="paused")
    assert db_fingerprint() == before


def test_a_bad_pause_reason_is_400_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    before = db_fingerprint()
    response = admin_client_key.post(
        f"{SCHEDULES}/{batch.id}/pause/", {"reason": "x" * 1001}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert db_fingerprint() == before
