"""The product API's rate limit is one budget per key across processes (two web servers on
one CACHE_URL), and a cache that cannot be reached serves the request instead of failing it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from access.services import api_key_create
from businesses.models import Team

ROOT = Path(__file__).resolve().parents[2]
RATE = 6


def _database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _web_server(cache_url: str, workers: int = 1) -> Iterator[str]:
    """gunicorn, as one host of the web tier: its own processes and memory."""
    port = _free_port()
    env = os.environ | {
        "DEBUG": "false",
        "SECRET_KEY": "a-test-secret-key-of-more-than-thirty-two-characters",
        "APIFY_WEBHOOK_SECRET": "a-test-webhook-secret-of-more-than-32-characters",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": _database_url(),
        "CACHE_URL": cache_url,
        "PRODUCT_API_RATE": f"{RATE}/min",
    }
    command = [sys.executable, "-m", "gunicorn", "scheduler_project.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no gunicorn"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


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
            "LOCATION": f"redis://127.0.0.1:{_free_port()}/0",  # nothing listens there
        }
    }
    response = product_client.get("/api/v1/teams/alice/")
    assert response.status_code == 200
    assert "Rate-limit cache unreachable" in caplog.text
