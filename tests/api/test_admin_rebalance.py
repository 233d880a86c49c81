"""Operators' API: rebalance and consolidate the batches of matching groups, with audit."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Team
from schedules.models import Batch, ScheduleGroup
from tests.api.admin_helpers import ADMIN, batch_of, db_fingerprint
from tests.conftest import register_google
from tests.schedules.helpers import assert_counts_exact

SCHEDULES = f"{ADMIN}/schedules"


def _uneven_group(alice: Team) -> tuple[ScheduleGroup, Batch, Batch]:
    """Alice's google/reviews/720 group with 4 businesses in batch 0 and none in batch 1."""
    businesses = register_google(alice, 4, scrape_types=["reviews"])
    first = batch_of(businesses[0])
    group = first.group
    second = Batch.objects.create(
        group=group, batch_index=1, capacity=first.capacity, next_run_at=first.next_run_at
    )
    return group, first, second


def test_rebalance_evens_out_matching_groups_and_audits_each_group_touched(
    admin_client_key: APIClient, alice: Team
) -> None:
    group, first, second = _uneven_group(alice)
    response = admin_client_key.post(
        f"{SCHEDULES}/rebalance/",
        {"platform": "google", "scrape_type": "reviews", "interval": 720, "reason": "even"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["moved"] == 2 and body["retired"] == 0
    assert body["groups"] == [
        {
            "group_id": group.id,
            "platform": "google",
            "scrape_type": "reviews",
            "interval_minutes": 720,
            "moved": 2,
            "retired": 0,
            "before": {"0": 4, "1": 0},
            "after": {"0": 2, "1": 2},
        }
    ]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.business_count, second.business_count) == (2, 2)
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.action, event.object_type, event.object_id, event.reason) == (
        "group.rebalance",
        "schedules.schedulegroup",
        str(group.id),
        "even",
    )
    assert event.before == {"batches": {"0": 4, "1": 0}}
    assert event.after == {"batches": {"0": 2, "1": 2}, "moved": 2, "retired": 0}


def test_rebalance_of_groups_with_nothing_to_move_audits_nothing(
    admin_client_key: APIClient, alice: Team
) -> None:
    register_google(alice, 2)
    response = admin_client_key.post(f"{SCHEDULES}/rebalance/", {})
    assert response.status_code == 200
    assert response.json()["moved"] == 0
    assert len(response.json()["groups"]) == ScheduleGroup.objects.count()
    assert not AuditEvent.objects.exists()


def test_consolidate_merges_and_retires_the_emptied_batches(
    admin_client_key: APIClient, alice: Team
) -> None:
    group, _first, _second = _uneven_group(alice)
    admin_client_key.post(f"{SCHEDULES}/rebalance/", {"interval": 720})
    AuditEvent.objects.all().delete()
    response = admin_client_key.post(f"{SCHEDULES}/consolidate/", {"platform": "google"})
    assert response.status_code == 200
    body = response.json()
    assert (body["moved"], body["retired"]) == (2, 1)
    (touched,) = [g for g in body["groups"] if g["moved"]]
    assert touched["before"] == {"0": 2, "1": 2} and touched["after"] == {"0": 4}
    assert sorted(Batch.objects.filter(group=group).values_list("status", flat=True)) == [
        "active",
        "retired",
    ]
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.action, event.object_id) == ("group.consolidate", str(group.id))
    assert event.after["retired"] == 1


@pytest.mark.parametrize("action", ["rebalance", "consolidate"])
@pytest.mark.parametrize(
    "body, field",
    [
        ({"platform": "myspace"}, "platform"),
        ({"scrape_type": "photos"}, "scrape_type"),
        ({"interval": 0}, "interval"),
        ({"interval": "hourly"}, "interval"),
    ],
)
def test_a_bad_sweep_filter_is_400_and_moves_nothing(
    admin_client_key: APIClient, alice: Team, action: str, body: dict, field: str
) -> None:
    _uneven_group(alice)
    before = db_fingerprint()
    response = admin_client_key.post(f"{SCHEDULES}/{action}/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert db_fingerprint() == before
