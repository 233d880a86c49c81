"""The list pages answer exactly what the endpoint's serializer says, field for field, page
edges included: written by PostgreSQL (scheduler_project/json_pages.py) and served from plain
rows (scheduler_project/rows.py, the embedded SQLite's path) alike."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from businesses.apis.product import BusinessOutputSerializer
from businesses.models import Business, ScrapeOutcome, Team
from scheduler_project.rows import RowShape
from schedules.apis.serializers import ScheduleOutputSerializer
from schedules.models import Batch
from schedules.selectors import batch_list, businesses_with_assignments
from schedules.services.batches import batch_pause
from tests.conftest import register_google


def _as_served(data: object) -> object:
    """What a client parses: the project's renderer, then JSON."""
    return json.loads(JSONRenderer().render(data))


@pytest.fixture(params=["sql", "rows"], autouse=True)
def list_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test once per path: PostgreSQL's JSON, and the rows path SQLite takes."""
    if request.param == "rows":
        for module in ("businesses.apis.product", "schedules.apis.batches"):
            monkeypatch.setattr(f"{module}.serves_json_pages", lambda: False)
    return request.param


@pytest.fixture
def scraped(alice: Team) -> list[Business]:
    """Businesses in every state a row can be in: scraped ok, failed, never scraped."""
    businesses = register_google(alice, 4, scrape_types=["reviews", "overview"])
    at = timezone.now() - timedelta(minutes=5)
    ScrapeOutcome.objects.create(
        business=businesses[0], scrape_type="reviews", last_scraped_at=at, last_status="succeeded"
    )
    ScrapeOutcome.objects.create(
        business=businesses[1],
        scrape_type="overview",
        last_scraped_at=at,
        last_status="failed",
        last_error="actor timed out",
    )
    Business.objects.filter(id=businesses[1].id).update(
        last_scraped_at=at, last_status="failed", last_error="actor timed out"
    )
    Business.objects.filter(id=businesses[3].id).update(active=False)
    return businesses


def test_the_business_list_is_its_serializer_field_for_field(
    product_client: APIClient, scraped: list[Business]
) -> None:
    body = product_client.get("/api/v1/teams/alice/businesses/?limit=3").json()
    page = Business.objects.filter(team_id="alice").order_by("id")[:3]
    expected = BusinessOutputSerializer(businesses_with_assignments(page), many=True).data
    assert body["results"] == _as_served(expected)
    assert body["count"] == 4 and body["next"].endswith("limit=3&offset=3")
    assert [o["last_status"] for o in body["results"][1]["outcomes"]] == ["failed", None]


def test_the_schedule_list_is_its_serializer_field_for_field(
    admin_client_key: APIClient, scraped: list[Business]
) -> None:
    batch = scraped[0].mappings.get(scrape_type="reviews").batch
    batch_pause(batch_id=batch.id, reason="maintenance", until=timezone.now() + timedelta(hours=1))
    body = admin_client_key.get("/api/v1/admin/schedules/?limit=500").json()
    expected = ScheduleOutputSerializer(batch_list(), many=True).data
    assert body["results"] == _as_served(expected)
    (paused,) = [row for row in body["results"] if row["status"] == "paused"]
    assert paused["paused_reason"] == "maintenance" and paused["paused_until"].endswith("Z")
    assert body["count"] == Batch.objects.count()


def test_a_page_past_the_end_is_empty_with_the_true_count(
    product_client: APIClient, scraped: list[Business]
) -> None:
    body = product_client.get("/api/v1/teams/alice/businesses/?limit=2&offset=10").json()
    assert (body["count"], body["results"], body["next"]) == (4, [], None)
    assert body["previous"].endswith("limit=2&offset=8")


def test_a_page_costs_the_same_queries_at_5_and_50_rows(
    product_client: APIClient, alice: Team
) -> None:
    register_google(alice, 50)

    def queries(limit: int) -> int:
        with CaptureQueriesContext(connection) as ctx:
            response = product_client.get(f"/api/v1/teams/alice/businesses/?limit={limit}")
        assert len(response.json()["results"]) == limit
        return len(ctx.captured_queries)

    assert queries(5) == queries(50)


def test_a_field_that_is_not_a_column_must_be_computed() -> None:
    with pytest.raises(TypeError, match="outcomes: not a plain column"):
        RowShape(BusinessOutputSerializer, computed={"assignments": lambda row: []})
