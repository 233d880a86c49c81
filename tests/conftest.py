"""Shared fixtures: three teams for isolation (alice, bob, charlie) and the fake Apify."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiKey
from access.services import api_key_create
from businesses.models import Business, Team
from businesses.services import business_register, team_upsert
from schedules.services.assignment import schedule_groups_init
from tests.fakes.apify_server import FakeApify

_place_ids = itertools.count(1)


def place_id(n: int | None = None) -> str:
    """A valid, unique Google place id."""
    return f"ChIJtest{n if n is not None else next(_place_ids):019d}"


@pytest.fixture(autouse=True)
def _empty_broker() -> None:
    """Each test starts with the tests' broker database empty: messages an earlier test
    published (and nobody consumed) would age into the `queues` health check."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.fixture
def groups(db: None) -> None:
    schedule_groups_init()


@pytest.fixture
def alice(groups: None) -> Team:
    return team_upsert(team_id="alice", tier="professional")[0]


@pytest.fixture
def bob(groups: None) -> Team:
    return team_upsert(team_id="bob", tier="starter")[0]


@pytest.fixture
def charlie(groups: None) -> Team:
    return team_upsert(team_id="charlie", tier="free")[0]


def register_google(team: Team, count: int = 1, **kwargs: object) -> list[Business]:
    return [
        business_register(team=team, platform="google", external_id=place_id(), **kwargs)
        for _ in range(count)
    ]


@pytest.fixture
def fake_apify(settings) -> Iterator[FakeApify]:
    with FakeApify(token="test-token") as fake:
        settings.APIFY_API_URL = fake.url
        settings.APIFY_TOKEN = "test-token"
        settings.WEBHOOK_BASE_URL = "https://scheduler.example.test"
        settings.APIFY_WEBHOOK_SECRET = "s3cret-for-tests"
        yield fake


# --- API clients for each kind of caller -------------------------------------------------


def _client_with_key(name: str, *, is_admin: bool) -> APIClient:
    row, key = api_key_create(name=name, is_admin=is_admin)
    # A key in steady use: "last used" is refreshed once a minute, so query counts measured
    # in tests are those of every other request.
    ApiKey.objects.filter(id=row.id).update(last_used_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def product_client(db: None) -> APIClient:
    """A product service's key: the product API only."""
    return _client_with_key("reviews-service", is_admin=False)


@pytest.fixture
def admin_client_key(db: None) -> APIClient:
    """An operator tool's admin key: product and admin API."""
    return _client_with_key("ops-tool", is_admin=True)


@pytest.fixture
def staff_client(db: None, django_user_model) -> APIClient:
    """A logged-in staff user (the dashboard's session; CSRF enforced like a browser)."""
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()
