"""Registration, teams and custom intervals: validation errors name the field and write nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from businesses import services
from businesses.models import Business, CustomInterval, Team
from businesses.selectors import team_effective_intervals
from businesses.services import (
    BusinessRow,
    business_delete,
    business_register,
    business_update,
    businesses_bulk_register,
    custom_interval_remove,
    custom_interval_set,
    team_upsert,
)
from scheduler_project.errors import ConflictError
from schedules.models import Batch, Mapping
from tests.conftest import place_id, register_google


def _nothing_written() -> None:
    assert Business.objects.count() == 0
    assert Mapping.objects.count() == 0
    assert Batch.objects.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"platform": "yelp", "external_id": "x"}, "platform", "Unknown platform 'yelp'"),
        (
            {"platform": "google", "external_id": "not a place id"},
            "external_id",
            "Must be a Google place id",
        ),
        (
            {"platform": "facebook", "external_id": "https://example.com/joes"},
            "external_id",
            "Must be a URL of Facebook.",
        ),
        (
            {"platform": "google", "external_id": place_id(), "scrape_types": ["photos"]},
            "scrape_types",
            "Unknown scrape type 'photos'",
        ),
        (
            {"platform": "google", "external_id": place_id(), "scrape_types": []},
            "scrape_types",
            services.SCRAPE_TYPES_EMPTY,
        ),
        (
            {"platform": "google", "external_id": place_id(), "name": "x" * 301},
            "name",
            services.NAME_TOO_LONG,
        ),
    ],
)
def test_bad_registration_names_the_field_and_writes_nothing(
    alice: Team, kwargs: dict, field: str, message: str
) -> None:
    with pytest.raises(ValidationError) as excinfo:
        business_register(team=alice, **kwargs)
    assert message in excinfo.value.message_dict[field][0]
    _nothing_written()


def test_a_duplicate_business_is_refused_even_written_differently(alice: Team) -> None:
    first = business_register(
        team=alice, platform="facebook", external_id="https://www.facebook.com/joes"
    )
    with pytest.raises(ConflictError) as excinfo:
        business_register(
            team=alice, platform="facebook", external_id="m.facebook.com/Joes/reviews"
        )
    assert excinfo.value.field == "external_id"
    assert str(excinfo.value) == services.BUSINESS_DUPLICATE.format(
        platform="facebook", id=first.id
    )
    assert Business.objects.count() == 1
    assert Mapping.objects.count() == 2


def test_the_same_profile_may_belong_to_two_teams(alice: Team, bob: Team) -> None:
    for team in (alice, bob):
        business_register(team=team, platform="google", external_id="ChIJN1t_tDeuEmsRUsoyG83frY4")
    mappings = Mapping.objects.filter(platform_key="ChIJN1t_tDeuEmsRUsoyG83frY4")
    assert sorted(mappings.values_list("team_id", flat=True)) == ["alice", "alice", "bob", "bob"]


def test_registration_maps_each_scrape_type_in_the_tier_group(alice: Team) -> None:
    business = business_register(
        team=alice, platform="google", external_id=place_id(), scrape_types=["reviews"]
    )
    (mapping,) = business.mappings.select_related("batch__group")
    assert mapping.scrape_type == "reviews"
    assert mapping.batch.group.interval_minutes == 12 * 60  # professional
    assert mapping.team_id == "alice" and mapping.platform_key == business.platform_key


def test_bad_team_input_is_refused(groups: None) -> None:
    with pytest.raises(ValidationError) as excinfo:
        team_upsert(team_id="t1", tier="platinum")
    assert "tier" in excinfo.value.message_dict
    with pytest.raises(ValidationError) as excinfo:
        team_upsert(team_id="x" * 65, tier="free")
    assert "team_id" in excinfo.value.message_dict
    assert Team.objects.count() == 0


@pytest.mark.parametrize("minutes", [14, 30 * 24 * 60 + 1, 0, -5])
def test_an_interval_out_of_range_is_refused(alice: Team, minutes: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        custom_interval_set(team=alice, interval_minutes=minutes)
    assert excinfo.value.message_dict["interval_minutes"] == [services.INTERVAL_OUT_OF_RANGE]
    assert CustomInterval.objects.count() == 0


def test_a_custom_interval_with_an_expiry_in_the_past_is_refused(alice: Team) -> None:
    register_google(alice)
    with pytest.raises(ValidationError) as excinfo:
        custom_interval_set(
            team=alice, interval_minutes=60, expires_at=timezone.now() - timedelta(minutes=1)
        )
    assert excinfo.value.message_dict["expires_at"] == [services.EXPIRY_IN_PAST]
    assert not Mapping.objects.filter(batch__group__interval_minutes=60).exists()


def test_effective_intervals_prefer_platform_then_team_then_tier(alice: Team) -> None:
    assert team_effective_intervals(alice)["google"] == 720
    custom_interval_set(team=alice, interval_minutes=120)
    custom_interval_set(team=alice, interval_minutes=30, platform="google")
    intervals = team_effective_intervals(alice)
    assert intervals["google"] == 30 and intervals["booking"] == 120
    custom_interval_remove(team=alice, platform="google")
    assert team_effective_intervals(alice)["google"] == 120


def test_removing_a_missing_custom_interval_is_a_validation_error(alice: Team) -> None:
    with pytest.raises(ValidationError) as excinfo:
        custom_interval_remove(team=alice, platform="booking")
    assert "platform" in excinfo.value.message_dict


def test_deactivating_removes_mappings_and_reactivating_restores_them(alice: Team) -> None:
    (business,) = register_google(alice)
    business_update(business=business, active=False)
    assert business.mappings.count() == 0
    assert sum(Batch.objects.values_list("business_count", flat=True)) == 0
    business_update(business=business, active=True, name="Joe's")
    assert business.mappings.count() == 2
    business.refresh_from_db()
    assert business.name == "Joe's"


def test_delete_removes_the_business_and_frees_its_batch_room(alice: Team) -> None:
    (business, other) = register_google(alice, 2)
    business_delete(business=business)
    assert not Business.objects.filter(id=business.id).exists()
    assert sum(Batch.objects.values_list("business_count", flat=True)) == 2
    assert Mapping.objects.filter(business=other).count() == 2


def test_bulk_registration_is_idempotent(alice: Team, bob: Team) -> None:
    rows = [BusinessRow("alice", "google", place_id(n)) for n in range(900_000, 900_050)]
    rows += [
        BusinessRow("bob", "booking", f"https://www.booking.com/hotel/fr/h{n}.html")
        for n in range(30)
    ]
    first = businesses_bulk_register(rows=rows)
    assert (first.created, first.existing, first.mappings_created) == (80, 0, 160)
    again = businesses_bulk_register(rows=rows)
    assert (again.created, again.existing, again.mappings_created) == (0, 80, 0)
    assert Mapping.objects.count() == 160


def test_one_bad_row_in_a_bulk_registration_writes_nothing(alice: Team) -> None:
    rows = [
        BusinessRow("alice", "google", place_id()),
        BusinessRow("alice", "google", "bad id"),
        BusinessRow("nobody", "google", place_id()),
    ]
    with pytest.raises(ValidationError) as excinfo:
        businesses_bulk_register(rows=rows)
    assert set(excinfo.value.message_dict) == {"rows[1].external_id", "rows[2].team_id"}
    assert Business.objects.count() == 0


def test_a_bulk_rerun_repairs_a_missing_mapping_and_moves_nothing_else(alice: Team) -> None:
    from django.db.models import F

    rows = [BusinessRow("alice", "google", place_id(n)) for n in range(910_000, 910_005)]
    businesses_bulk_register(rows=rows)
    lost = Mapping.objects.filter(scrape_type="overview").first()
    Batch.objects.filter(id=lost.batch_id).update(business_count=F("business_count") - 1)
    lost.delete()
    before = dict(Mapping.objects.values_list("id", "batch_id"))
    result = businesses_bulk_register(rows=rows)
    assert (result.created, result.existing, result.mappings_created) == (0, 5, 1)
    after = dict(Mapping.objects.values_list("id", "batch_id"))
    assert {k: v for k, v in after.items() if k in before} == before
    assert Mapping.objects.count() == 10
