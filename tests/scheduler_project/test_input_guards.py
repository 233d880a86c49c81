"""Input the service cannot hold is a 400 naming the problem, never a 500, and writes nothing."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Business, Team
from scheduler_project.parsers import MAX_JSON_DEPTH, json_depth
from tests.webhooks.test_endpoint import SECRET, post
from webhooks.models import WebhookEvent

TEAMS = "/api/v1/teams"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("value", "depth"), [(1, 0), ([], 1), ({"a": [1, {"b": []}]}, 4)])
def test_json_depth_counts_lists_and_objects(value: object, depth: int) -> None:
    assert json_depth(value) == depth


def test_5000_levels_of_json_on_the_product_api_are_a_400(
    product_client: APIClient, alice: Team
) -> None:
    response = product_client.generic(
        "POST", f"{TEAMS}/alice/businesses/", nested(5000), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]
    assert not Business.objects.exists()


def test_json_just_past_the_limit_is_refused_too(product_client: APIClient, alice: Team) -> None:
    body = '{"platform": "google", "name": ' + nested(MAX_JSON_DEPTH) + "}"
    response = product_client.generic(
        "POST", f"{TEAMS}/alice/businesses/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_50000_levels_of_json_on_the_webhook_are_a_400_and_store_nothing(
    db: None, settings
) -> None:
    settings.APIFY_WEBHOOK_SECRET = SECRET
    response = post(nested(50_000), raw=True)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_nul_in_the_team_path_is_a_400(product_client: APIClient, alice: Team) -> None:
    response = product_client.get(f"{TEAMS}/ali%00ce/businesses/")
    assert response.status_code == 400
    assert response.json() == {"detail": "A NUL character in the path cannot be stored."}


def test_a_nul_in_a_query_parameter_is_a_400(product_client: APIClient, alice: Team) -> None:
    response = product_client.get(f"{TEAMS}/alice/businesses/?platform=goo%00gle")
    assert response.status_code == 400
    assert "query parameter 'platform'" in response.json()["detail"]


def test_a_nul_in_a_dashboard_form_is_a_400_and_changes_nothing(
    db: None, django_user_model
) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("op", password="x", is_staff=True))
    response = client.post("/dashboard/schedules/1/pause/", {"reason": "maint\x00enance"})
    assert response.status_code == 400
    assert b"form field 'reason'" in response.content
    assert not AuditEvent.objects.exists()
