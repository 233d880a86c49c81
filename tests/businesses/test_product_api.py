"""The product API: teams, businesses, reviews — every path scoped by the team in it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from businesses.models import Business, ReviewItem, Team
from businesses.services import BusinessRow, businesses_bulk_register
from retry.models import RetryEntry
from schedules.models import Batch, Mapping
from tests.conftest import place_id, register_google

TEAMS = "/api/v1/teams"


def test_put_creates_a_team_then_changes_its_tier_and_moves_its_businesses(
    product_client: APIClient, groups: None
) -> None:
    response = product_client.put(f"{TEAMS}/acme/", {"tier": "starter"})
    assert response.status_code == 201
    assert response.json()["effective_intervals"] == {
        "google": 1440,
        "facebook": 1440,
        "tripadvisor": 1440,
        "booking": 1440,
    }
    register_google(Team.objects.get(team_id="acme"), 2)
    response = product_client.put(f"{TEAMS}/acme/", {"tier": "enterprise"})
    assert response.status_code == 200
    assert response.json()["tier"] == "enterprise"
    assert set(Mapping.objects.values_list("batch__group__interval_minutes", flat=True)) == {360}


def test_get_team_shows_effective_intervals(product_client: APIClient, alice: Team) -> None:
    body = product_client.get(f"{TEAMS}/alice/").json()
    assert (body["team_id"], body["tier"], body["effective_intervals"]["booking"]) == (
        "alice",
        "professional",
        720,
    )


@pytest.mark.parametrize("body", [{}, {"tier": "platinum"}, {"tier": None}])
def test_a_bad_tier_is_400_and_creates_nothing(
    product_client: APIClient, groups: None, body: dict
) -> None:
    response = product_client.put(f"{TEAMS}/acme/", body, format="json")
    assert response.status_code == 400
    assert "tier" in response.json()
    assert not Team.objects.exists()


def test_create_a_business_answers_201_with_its_assignments(
    product_client: APIClient, alice: Team
) -> None:
    response = product_client.post(
        f"{TEAMS}/alice/businesses/",
        {"platform": "facebook", "external_id": "m.facebook.com/Joes/reviews", "name": "Joe's"},
    )
    assert response.status_code == 201
    body = response.json()
    business = Business.objects.get()
    assert body["id"] == business.id
    assert (body["team_id"], body["platform"], body["external_id"], body["name"]) == (
        "alice",
        "facebook",
        "https://www.facebook.com/joes",
        "Joe's",
    )
    assert body["active"] is True and body["last_status"] is None
    assert sorted((a["scrape_type"], a["interval_minutes"]) for a in body["assignments"]) == [
        ("overview", 720),
        ("reviews", 720),
    ]
    assert {a["schedule_id"] for a in body["assignments"]} == set(
        Mapping.objects.values_list("batch_id", flat=True)
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"external_id": "x"}, "platform"),
        ({"platform": "yelp", "external_id": "x"}, "platform"),
        ({"platform": "google"}, "external_id"),
        ({"platform": "google", "external_id": "bad id"}, "external_id"),
        (
            {"platform": "booking", "external_id": "https://www.booking.com/searchresults.html"},
            "external_id",
        ),
        (
            {
                "platform": "google",
                "external_id": "ChIJN1t_tDeuEmsRUsoyG83frY4",
                "scrape_types": ["photos"],
            },
            "scrape_types",
        ),
        (
            {
                "platform": "google",
                "external_id": "ChIJN1t_tDeuEmsRUsoyG83frY4",
                "scrape_types": [],
            },
            "scrape_types",
        ),
        (
            {"platform": "google", "external_id": "ChIJN1t_tDeuEmsRUsoyG83frY4", "name": "x" * 301},
            "name",
        ),
    ],
)
def test_a_bad_business_is_400_naming_the_field_and_writes_nothing(
    product_client: APIClient, alice: Team, body: dict, field: str
) -> None:
    response = product_client.post(f"{TEAMS}/alice/businesses/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Business.objects.exists() and not Batch.objects.exists()


def test_a_duplicate_business_is_409_naming_the_field(
    product_client: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice)
    response = product_client.post(
        f"{TEAMS}/alice/businesses/", {"platform": "google", "external_id": business.external_id}
    )
    assert response.status_code == 409
    assert f"id {business.id}" in response.json()["external_id"][0]
    assert Business.objects.count() == 1


def test_businesses_of_an_unknown_team_are_404(product_client: APIClient, groups: None) -> None:
    assert product_client.get(f"{TEAMS}/nobody/businesses/").status_code == 404
    response = product_client.post(
        f"{TEAMS}/nobody/businesses/", {"platform": "google", "external_id": place_id()}
    )
    assert response.status_code == 404
    assert not Business.objects.exists()


def test_list_filters_and_paginates(product_client: APIClient, alice: Team) -> None:
    failed, ok, never = register_google(alice, 3)
    Business.objects.filter(id=failed.id).update(last_status="failed")
    Business.objects.filter(id=ok.id).update(last_status="succeeded")
    body = product_client.get(f"{TEAMS}/alice/businesses/?status=failed").json()
    assert [b["id"] for b in body["results"]] == [failed.id]
    body = product_client.get(f"{TEAMS}/alice/businesses/?status=never").json()
    assert [b["id"] for b in body["results"]] == [never.id]
    body = product_client.get(f"{TEAMS}/alice/businesses/?platform=booking").json()
    assert body["results"] == []
    body = product_client.get(f"{TEAMS}/alice/businesses/?limit=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    response = product_client.get(f"{TEAMS}/alice/businesses/?status=lost")
    assert response.status_code == 400 and "status" in response.json()


def test_list_queries_do_not_grow_with_rows(product_client: APIClient, alice: Team) -> None:
    def queries_for(team_id: str, count: int) -> int:
        product_client.put(f"{TEAMS}/{team_id}/", {"tier": "free"})
        businesses_bulk_register(
            rows=[BusinessRow(team_id, "google", place_id()) for _ in range(count)]
        )
        with CaptureQueriesContext(connection) as ctx:
            response = product_client.get(f"{TEAMS}/{team_id}/businesses/?limit=500")
        assert len(response.json()["results"]) == count
        return len(ctx.captured_queries)

    assert queries_for("ten", 10) == queries_for("two-hundred", 200)


def test_patch_renames_and_deactivates(product_client: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)
    url = f"{TEAMS}/alice/businesses/{business.id}/"
    response = product_client.patch(url, {"name": "New name", "active": False})
    assert response.status_code == 200
    assert (response.json()["name"], response.json()["active"]) == ("New name", False)
    assert response.json()["assignments"] == []
    assert not Mapping.objects.exists()
    response = product_client.patch(url, {"active": "maybe"})
    assert response.status_code == 400 and "active" in response.json()


def test_delete_removes_the_business_its_mappings_and_its_retries(
    product_client: APIClient, alice: Team
) -> None:
    business, other = register_google(alice, 2)
    RetryEntry.objects.create(business=business, scrape_type="reviews", state="pending")
    response = product_client.delete(f"{TEAMS}/alice/businesses/{business.id}/")
    assert response.status_code == 204
    assert list(Business.objects.values_list("id", flat=True)) == [other.id]
    assert not RetryEntry.objects.exists()
    assert sum(Batch.objects.values_list("business_count", flat=True)) == 2
    assert product_client.delete(f"{TEAMS}/alice/businesses/{business.id}/").status_code == 404


def test_reviews_are_newest_first_cursor_paginated_and_filtered_by_since(
    product_client: APIClient, alice: Team
) -> None:
    from datetime import timedelta

    from scheduler_project.dbclock import db_now

    (business,) = register_google(alice)
    now = db_now()
    for n in range(5):
        item = ReviewItem.objects.create(
            business=business, platform_item_id=f"r{n}", payload={"n": n}
        )
        ReviewItem.objects.filter(id=item.id).update(scraped_at=now - timedelta(hours=5 - n))
    url = f"{TEAMS}/alice/businesses/{business.id}/reviews/"
    first = product_client.get(f"{url}?limit=2").json()
    assert [r["platform_item_id"] for r in first["results"]] == ["r4", "r3"]
    second = product_client.get(first["next"]).json()
    assert [r["platform_item_id"] for r in second["results"]] == ["r2", "r1"]
    since = (now - timedelta(hours=2, minutes=30)).isoformat()
    recent = product_client.get(url, {"since": since}).json()
    assert [r["platform_item_id"] for r in recent["results"]] == ["r4", "r3"]
    bad = product_client.get(url, {"since": "yesterday"})
    assert bad.status_code == 400 and "since" in bad.json()


# --- team scoping: team A can neither see nor change team B's objects ------------------------


@pytest.fixture
def bobs_business(bob: Team, alice: Team) -> Business:
    (business,) = register_google(bob)
    ReviewItem.objects.create(business=business, platform_item_id="secret", payload={})
    return business


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("get", "", None),
        ("patch", "", {"name": "hijacked", "active": False}),
        ("delete", "", None),
        ("get", "reviews/", None),
    ],
)
def test_another_teams_business_is_404_and_untouched(
    product_client: APIClient,
    bobs_business: Business,
    method: str,
    suffix: str,
    body: dict | None,
) -> None:
    url = f"{TEAMS}/alice/businesses/{bobs_business.id}/{suffix}"
    response = getattr(product_client, method)(url, body, format="json")
    assert response.status_code == 404
    assert "secret" not in response.content.decode()
    bobs_business.refresh_from_db()
    assert (bobs_business.name, bobs_business.active) == ("", True)
    assert bobs_business.mappings.count() == 2


def test_a_teams_list_shows_only_its_own_businesses(
    product_client: APIClient, bobs_business: Business
) -> None:
    (mine,) = register_google(Team.objects.get(team_id="alice"))
    body = product_client.get(f"{TEAMS}/alice/businesses/").json()
    assert [b["id"] for b in body["results"]] == [mine.id]


# --- authentication ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", [None, "Api-Key nope", "Api-Key gs_0000_zzz", "Bearer x", "Api-Key "]
)
def test_without_a_valid_key_the_product_api_is_401(alice: Team, header: str | None) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(f"{TEAMS}/alice/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert client.put(f"{TEAMS}/alice/", {"tier": "free"}).status_code == 401
    assert Team.objects.get(team_id="alice").tier == "professional"


def test_a_revoked_key_is_refused(alice: Team) -> None:
    from django.utils import timezone

    from access.models import ApiKey
    from access.services import api_key_create

    row, key = api_key_create(name="old-service")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get(f"{TEAMS}/alice/").status_code == 200
    ApiKey.objects.filter(id=row.id).update(revoked_at=timezone.now())
    assert client.get(f"{TEAMS}/alice/").status_code == 401


def test_keys_are_stored_hashed(db: None) -> None:
    from access.models import ApiKey
    from access.services import api_key_create

    row, key = api_key_create(name="svc")
    assert key not in {row.key_hash, row.prefix} and row.key_hash == ApiKey.hash(key)
    assert not ApiKey.objects.filter(key_hash=key).exists()


def test_create_api_key_prints_the_key_once(db: None) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out, err = StringIO(), StringIO()
    call_command("create_api_key", "reviews", "--admin", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert key.startswith("gs_") and "not shown again" in err.getvalue()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/teams/none/").status_code == 404  # authenticated, no such team
    with pytest.raises(CommandError, match="exists"):
        call_command("create_api_key", "reviews", stdout=out, stderr=err)


def test_an_unknown_api_path_answers_json_404(product_client: APIClient) -> None:
    response = product_client.get("/api/v1/teams/alice/businesses/not-a-number/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_lone_surrogate_in_json_is_400_not_a_database_error(
    product_client: APIClient, alice: Team
) -> None:
    response = product_client.post(
        f"{TEAMS}/alice/businesses/",
        data='{"platform": "google", "external_id": "ChIJN1t_tDeuEmsRUsoyG83frY4", '
        '"name": "\\ud800"}',
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "invalid text" in response.json()["detail"]
    assert not Business.objects.exists()


def test_last_used_is_refreshed_at_most_once_a_minute(alice: Team) -> None:
    from datetime import timedelta

    from access.models import ApiKey
    from access.services import api_key_create

    row, key = api_key_create(name="svc")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    client.get(f"{TEAMS}/alice/")
    first = ApiKey.objects.get(id=row.id).last_used_at
    assert first is not None
    client.get(f"{TEAMS}/alice/")
    assert ApiKey.objects.get(id=row.id).last_used_at == first
    ApiKey.objects.filter(id=row.id).update(last_used_at=first - timedelta(minutes=2))
    client.get(f"{TEAMS}/alice/")
    assert ApiKey.objects.get(id=row.id).last_used_at > first - timedelta(minutes=2)
