"""The identifiers the API takes from callers: team ids by their rule, profile URLs only of the
platform's own host (no markup, no user name before the host)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from rest_framework.test import APIClient

from businesses.models import Business, Team
from businesses.services import TEAM_ID_INVALID
from businesses.url_identifiers import URL_SCHEME_INVALID, URL_USERINFO

TEAMS = "/api/v1/teams"


# --- team ids: letters, digits, '.', '_', '-', 1 to 64 characters ---------------------------


@pytest.mark.parametrize(
    "team_id",
    [" ", '"><img src=x onerror=alert(1)>', "a" * 65, "tab\there", "caf\u00e9", "a:b", "a+b"],
)
def test_a_team_put_with_a_bad_id_is_a_400_naming_team_id_and_creates_nothing(
    product_client: APIClient, groups: None, team_id: str
) -> None:
    response = product_client.put(f"{TEAMS}/{quote(team_id, safe='')}/", {"tier": "free"})
    assert response.status_code == 400
    assert response.json() == {"team_id": [TEAM_ID_INVALID]}
    assert "letters, digits, '.', '_' or '-'" in TEAM_ID_INVALID
    assert not Team.objects.exists()
    assert product_client.get(f"{TEAMS}/{quote(team_id, safe='')}/").status_code == 404


@pytest.mark.parametrize("team_id", ["a", "Team_1.prod-2", "x" * 64])
def test_a_team_id_within_the_rule_is_created(
    product_client: APIClient, groups: None, team_id: str
) -> None:
    assert product_client.put(f"{TEAMS}/{team_id}/", {"tier": "free"}).status_code == 201
    assert Team.objects.filter(team_id=team_id).exists()


def test_a_team_stored_before_the_rule_can_still_change_its_tier(
    product_client: APIClient, groups: None
) -> None:
    Team.objects.create(team_id="legacy team", tier="free")
    response = product_client.put(f"{TEAMS}/legacy%20team/", {"tier": "starter"})
    assert response.status_code == 200
    assert Team.objects.get(team_id="legacy team").tier == "starter"


# --- profile URLs: http(s) of the platform's host, no markup, no user name before the host -----


@pytest.mark.parametrize(
    ("platform", "external_id", "reason"),
    [
        ("facebook", "https://www.facebook.com/<script>alert(1)</script>", "Must not contain '<'"),
        ("facebook", "javascript:alert(1)", URL_SCHEME_INVALID),
        ("facebook", "https://facebook.com@evil.com/x", URL_USERINFO),
        ("facebook", "https://evil.com/joes", "Must be a URL of Facebook."),
        (
            "tripadvisor",
            "https://www.tripadvisor.com/Hotel_Review-g1-d2-Reviews-<script>.html",
            "Must not contain '<'",
        ),
        ("tripadvisor", "https://tripadvisor.com.evl/H-g1-d2-R.html", "Must be a URL of"),
        ("booking", "https://www.booking.com.evil.com/hotel/fr/x.html", "Must be a URL of"),
        ("google", "ChIJ<script>alert(1)</script>", "Must be a Google place id"),
    ],
)
def test_a_business_with_an_unsafe_identifier_is_a_400_naming_external_id(
    product_client: APIClient, alice: Team, platform: str, external_id: str, reason: str
) -> None:
    response = product_client.post(
        f"{TEAMS}/alice/businesses/", {"platform": platform, "external_id": external_id}
    )
    assert response.status_code == 400
    (message,) = response.json()["external_id"]
    assert message.startswith(reason)
    assert not Business.objects.exists()
