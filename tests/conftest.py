"""Shared fixtures: three teams for isolation (alice, bob, charlie) and the fake Apify."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest

from businesses.models import Business, Team
from businesses.services import business_register, team_upsert
from schedules.services.assignment import schedule_groups_init
from tests.fakes.apify_server import FakeApify

_place_ids = itertools.count(1)


def place_id(n: int | None = None) -> str:
    """A valid, unique Google place id."""
    return f"ChIJtest{n if n is not None else next(_place_ids):019d}"


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
