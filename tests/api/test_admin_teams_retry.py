"""Operators' API on teams (schedules, custom intervals) and the retry queue."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Business, CustomInterval, Team
from businesses.services import (
    CUSTOM_INTERVAL_MISSING,
    INTERVAL_OUT_OF_RANGE,
    BusinessRow,
    businesses_bulk_register,
    custom_interval_set,
)
from retry.models import RetryEntry
from retry.services import RETRY_BUSINESS_INACTIVE, RETRY_RUNNING
from schedules.models import Mapping
from tests.api.admin_helpers import ADMIN, batch_of, db_fingerprint
from tests.conftest import place_id, register_google
from tests.schedules.helpers import assert_counts_exact

TEAMS = f"{ADMIN}/teams"


# --- team schedules --------------------------------------------------------------------------


def test_team_schedules_list_assignments_effective_and_custom_intervals(
    admin_client_key: APIClient, alice: Team, bob: Team
) -> None:
    (business,) = register_google(alice)
    register_google(bob)
    custom_interval_set(team=alice, interval_minutes=60, platform="booking", reason="vip")
    body = admin_client_key.get(f"{TEAMS}/alice/schedules/").json()
    assert (body["team_id"], body["tier"]) == ("alice", "professional")
    assert body["effective_intervals"] == {
        "google": 720,
        "facebook": 720,
        "tripadvisor": 720,
        "booking": 60,
    }
    assert [(c["platform"], c["interval_minutes"]) for c in body["custom_intervals"]] == [
        ("booking", 60)
    ]
    rows = sorted(body["assignments"], key=lambda a: a["scrape_type"])
    assert [(a["business_id"], a["scrape_type"]) for a in rows] == [
        (business.id, "overview"),
        (business.id, "reviews"),
    ]
    assert rows[1]["schedule_id"] == batch_of(business).id
    assert rows[1]["interval_minutes"] == 720


def test_team_schedules_queries_do_not_grow(admin_client_key: APIClient, groups: None) -> None:
    def queries_for(team_id: str, count: int) -> int:
        Team.objects.create(team_id=team_id, tier="free")
        businesses_bulk_register(
            rows=[BusinessRow(team_id, "google", place_id()) for _ in range(count)]
        )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{TEAMS}/{team_id}/schedules/")
        assert len(response.json()["assignments"]) == 2 * count
        return len(ctx.captured_queries)

    assert queries_for("ten", 10) == queries_for("two-hundred", 200)


def test_an_unknown_team_is_404_everywhere(admin_client_key: APIClient, groups: None) -> None:
    assert admin_client_key.get(f"{TEAMS}/nobody/schedules/").status_code == 404
    put = admin_client_key.put(f"{TEAMS}/nobody/custom-interval/", {"interval_minutes": 60})
    assert put.status_code == 404
    assert admin_client_key.delete(f"{TEAMS}/nobody/custom-interval/").status_code == 404
    assert not CustomInterval.objects.exists() and not AuditEvent.objects.exists()


# --- custom intervals ------------------------------------------------------------------------


def test_put_custom_interval_moves_the_team_and_audits_before_and_after(
    admin_client_key: APIClient, alice: Team, bob: Team
) -> None:
    register_google(alice, 2)
    (bobs,) = register_google(bob)
    bobs_batch = batch_of(bobs)
    expires = (timezone.now() + timedelta(days=7)).isoformat()
    response = admin_client_key.put(
        f"{TEAMS}/alice/custom-interval/",
        {"interval_minutes": 30, "platform": "google", "expires_at": expires, "reason": "trial"},
    )
    assert response.status_code == 200
    assert response.json()["effective_intervals"]["google"] == 30
    assert {a["interval_minutes"] for a in response.json()["assignments"]} == {30}
    custom = CustomInterval.objects.get()
    assert (custom.team_id, custom.platform, custom.interval_minutes, custom.reason) == (
        "alice",
        "google",
        30,
        "trial",
    )
    assert custom.created_by == "api-key:ops-tool"
    assert set(
        Mapping.objects.filter(team=alice).values_list("batch__group__interval_minutes", flat=True)
    ) == {30}
    assert batch_of(bobs) == bobs_batch  # another team is untouched
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_type, event.object_id, event.reason) == (
        "api-key:ops-tool",
        "custom_interval.set",
        "businesses.team",
        "alice",
        "trial",
    )
    assert event.before is None
    assert (event.after["interval_minutes"], event.after["platform"], event.after["moved"]) == (
        30,
        "google",
        4,
    )

    admin_client_key.put(
        f"{TEAMS}/alice/custom-interval/", {"interval_minutes": 45, "platform": "google"}
    )
    replaced = AuditEvent.objects.latest("id")
    assert replaced.before["interval_minutes"] == 30 and replaced.after["interval_minutes"] == 45


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "interval_minutes"),
        ({"interval_minutes": 5}, "interval_minutes"),
        ({"interval_minutes": 60 * 24 * 31}, "interval_minutes"),
        ({"interval_minutes": "soon"}, "interval_minutes"),
        ({"interval_minutes": 60, "platform": "myspace"}, "platform"),
        ({"interval_minutes": 60, "expires_at": "yesterday"}, "expires_at"),
        ({"interval_minutes": 60, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_a_bad_custom_interval_is_400_naming_the_field_and_writes_nothing(
    admin_client_key: APIClient, alice: Team, body: dict, field: str
) -> None:
    register_google(alice)
    before = db_fingerprint()
    response = admin_client_key.put(f"{TEAMS}/alice/custom-interval/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert db_fingerprint() == before


def test_out_of_range_intervals_name_the_range(admin_client_key: APIClient, alice: Team) -> None:
    response = admin_client_key.put(f"{TEAMS}/alice/custom-interval/", {"interval_minutes": 5})
    assert response.json() == {"interval_minutes": [INTERVAL_OUT_OF_RANGE]}


def test_delete_custom_interval_falls_back_to_the_tier_with_audit(
    admin_client_key: APIClient, alice: Team
) -> None:
    register_google(alice)
    custom_interval_set(team=alice, interval_minutes=30, platform="google")
    AuditEvent.objects.all().delete()
    response = admin_client_key.delete(f"{TEAMS}/alice/custom-interval/?platform=google")
    assert response.status_code == 204
    assert not CustomInterval.objects.exists()
    assert set(Mapping.objects.values_list("batch__group__interval_minutes", flat=True)) == {720}
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id, event.actor) == (
        "custom_interval.remove",
        "alice",
        "api-key:ops-tool",
    )
    assert event.before["interval_minutes"] == 30 and event.after["moved"] == 2


def test_delete_without_a_custom_interval_is_400_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    custom_interval_set(team=alice, interval_minutes=30)  # team-wide, not google's
    before = db_fingerprint()
    response = admin_client_key.delete(f"{TEAMS}/alice/custom-interval/?platform=google")
    assert response.status_code == 400
    assert response.json() == {
        "platform": [CUSTOM_INTERVAL_MISSING.format(scope="platform google")]
    }
    response = admin_client_key.delete(f"{TEAMS}/alice/custom-interval/?platform=myspace")
    assert response.status_code == 400 and "platform" in response.json()
    assert db_fingerprint() == before


# --- business retry --------------------------------------------------------------------------


def test_force_retry_opens_an_entry_per_scrape_type_with_audit(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    response = admin_client_key.post(
        f"{ADMIN}/businesses/{business.id}/retry/", {"reason": "customer asked"}
    )
    assert response.status_code == 202
    entries = RetryEntry.objects.order_by("scrape_type")
    assert [(e.scrape_type, e.state) for e in entries] == [
        ("overview", "pending"),
        ("reviews", "pending"),
    ]
    assert {e["id"] for e in response.json()} == {e.id for e in entries}
    assert response.json()[0]["team_id"] == "alice"
    events = AuditEvent.objects.all()
    assert {(e.action, e.reason, e.actor) for e in events} == {
        ("retry.force", "customer asked", "api-key:ops-tool")
    }
    assert len(events) == 2


def test_force_retry_while_one_runs_is_409_and_writes_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    RetryEntry.objects.create(business=business, scrape_type="reviews", state="running")
    before = db_fingerprint()
    response = admin_client_key.post(f"{ADMIN}/businesses/{business.id}/retry/")
    assert response.status_code == 409
    assert response.json() == {"detail": RETRY_RUNNING}
    assert db_fingerprint() == before


def test_force_retry_of_an_inactive_business_is_409(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    Business.objects.filter(id=business.id).update(active=False)
    before = db_fingerprint()
    response = admin_client_key.post(f"{ADMIN}/businesses/{business.id}/retry/")
    assert (response.status_code, response.json()) == (409, {"detail": RETRY_BUSINESS_INACTIVE})
    assert db_fingerprint() == before


def test_force_retry_of_an_unknown_business_is_404_and_a_bad_reason_400(
    admin_client_key: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    assert admin_client_key.post(f"{ADMIN}/businesses/999999/retry/").status_code == 404
    response = admin_client_key.post(
        f"{ADMIN}/businesses/{business.id}/retry/", {"reason": "x" * 1001}, format="json"
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert not RetryEntry.objects.exists() and not AuditEvent.objects.exists()


# --- retry queue -----------------------------------------------------------------------------


def test_retry_queue_shows_entries_soonest_first_and_filters_by_state(
    admin_client_key: APIClient, alice: Team
) -> None:
    first, second, third = register_google(alice, 3)
    now = timezone.now()
    later = RetryEntry.objects.create(
        business=first, scrape_type="reviews", next_attempt_at=now + timedelta(minutes=15)
    )
    sooner = RetryEntry.objects.create(
        business=second,
        scrape_type="reviews",
        next_attempt_at=now + timedelta(minutes=5),
        attempts=1,
        last_error="error item",
    )
    dead = RetryEntry.objects.create(business=third, scrape_type="overview", state="dead")
    body = admin_client_key.get(f"{ADMIN}/retry-queue/").json()
    assert [e["id"] for e in body["results"]] == [sooner.id, later.id, dead.id]
    row = body["results"][0]
    assert {k: row[k] for k in ("business_id", "scrape_type", "attempts", "state")} == {
        "business_id": second.id,
        "scrape_type": "reviews",
        "attempts": 1,
        "state": "pending",
    }
    assert (row["last_error"], row["team_id"], row["platform"]) == ("error item", "alice", "google")
    assert row["next_attempt_at"]
    body = admin_client_key.get(f"{ADMIN}/retry-queue/?state=dead").json()
    assert [e["id"] for e in body["results"]] == [dead.id]
    response = admin_client_key.get(f"{ADMIN}/retry-queue/?state=lost")
    assert response.status_code == 400 and "state" in response.json()


def test_retry_queue_queries_do_not_grow(admin_client_key: APIClient, groups: None) -> None:
    def queries_for(team_id: str, count: int) -> int:
        Team.objects.create(team_id=team_id, tier="free")
        businesses_bulk_register(
            rows=[BusinessRow(team_id, "google", place_id()) for _ in range(count)]
        )
        RetryEntry.objects.bulk_create(
            RetryEntry(business=b, scrape_type="reviews", next_attempt_at=timezone.now())
            for b in Business.objects.filter(team_id=team_id)
        )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{ADMIN}/retry-queue/?team_id={team_id}&limit=500")
        assert len(response.json()["results"]) == count
        return len(ctx.captured_queries)

    assert queries_for("ten", 10) == queries_for("two-hundred", 200)


def test_a_nul_byte_in_a_team_id_or_a_filter_is_400_not_500(
    admin_client_key: APIClient, groups: None
) -> None:
    response = admin_client_key.get(f"{TEAMS}/a%00b/schedules/")
    assert response.status_code == 400 and "the path" in response.json()["detail"]
    response = admin_client_key.get(f"{ADMIN}/audit-log/?actor=a%00b")
    assert response.status_code == 400 and "'actor'" in response.json()["detail"]
