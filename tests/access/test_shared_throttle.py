"""The product API's rate limit is one budget per key across processes (two web servers on
one CACHE_URL), and a cache that cannot be reached serves the request instead of failing it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from access.services import api_key_create
from businesses.models import Team
from tests.web_server import free_port, web_server

RATE = 6


def _web_server(cache_url: str, workers: int = 1):
    return web_server(workers, CACHE_URL=cache_url, PRODUCT_API_RATE=f"{RATE}/min")


@pytest.mark.django_db(transaction=True)
def test_two_web_servers_on_one_cache_share_one_budget_per_key() -> None:
    Team.objects.create(team_id="alice", tier="starter")
    _, key = api_key_create(name="throttled-service")
    headers = {"Authorization": f"Api-Key {key}"}
    # The suite's broker db is flushed before each test: the budget starts whole.
    cache_url = settings.CELERY_BROKER_URL
    with _web_server(cache_url) as first, _web_server(cache_url) as second:
        statuses = [
            httpx.get(f"{base}/api/v1/teams/alice/", headers=headers).status_code
            for base in [first] * RATE + [second] * RATE
        ]
    assert statuses == [200] * RATE + [429] * RATE


@pytest.mark.django_db(transaction=True)
def test_requests_racing_on_two_servers_are_served_within_the_budget() -> None:
    """16 clients at once on 2 hosts of 4 workers each: exactly the budget is served (each
    count is an atomic increment: two workers reading the count together lose none)."""
    Team.objects.create(team_id="alice", tier="starter")
    _, key = api_key_create(name="racing-service")
    headers = {"Authorization": f"Api-Key {key}"}
    cache_url = settings.CELERY_BROKER_URL
    with _web_server(cache_url, 4) as first, _web_server(cache_url, 4) as second:
        start = threading.Barrier(16)

        def client(n: int) -> list[int]:
            base = (first, second)[n % 2]
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                start.wait()
                return [http.get("/api/v1/teams/alice/").status_code for _ in range(4)]

        with ThreadPoolExecutor(16) as pool:
            statuses = [s for batch in pool.map(client, range(16)) for s in batch]
    assert sorted(statuses) == [200] * RATE + [429] * (64 - RATE)


def test_an_unreachable_cache_serves_the_request(
    product_client: APIClient, alice: Team, settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        }
    }
    response = product_client.get("/api/v1/teams/alice/")
    assert response.status_code == 200
    assert "Rate-limit cache unreachable" in caplog.text
