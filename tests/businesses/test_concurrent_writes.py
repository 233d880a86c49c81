"""The red-team races, over real HTTP against a live server on PostgreSQL, each client on
its own thread and connection: no answer is a 500, and the schedules stay consistent."""

from __future__ import annotations

import httpx
import pytest

from access.services import api_key_create
from businesses.models import Business
from retry.models import OPEN_RETRY_STATES, RetryEntry
from schedules.services.assignment import schedule_groups_init
from tests.concurrency import run_concurrently
from tests.conftest import place_id
from tests.integrity.operations import assert_consistent

pytestmark = pytest.mark.django_db(transaction=True)

TIERS = ["free", "enterprise", "starter", "professional", "free", "enterprise"]


@pytest.fixture
def api(live_server) -> dict[str, object]:
    schedule_groups_init()
    _, product = api_key_create(name="product")
    _, admin = api_key_create(name="ops", is_admin=True)
    return {
        "url": live_server.url + "/api/v1",
        "product": {"Authorization": f"Api-Key {product}"},
        "admin": {"Authorization": f"Api-Key {admin}"},
    }


def _call(api: dict, method: str, path: str, key: str = "product", **kwargs) -> int:
    with httpx.Client(base_url=api["url"], headers=api[key], timeout=60) as client:
        return client.request(method, path, **kwargs).status_code


def test_creates_racing_tier_changes_of_one_team_leave_no_500_and_nothing_stranded(
    api: dict,
) -> None:
    assert _call(api, "PUT", "/teams/acme/", json={"tier": "starter"}) == 201
    statuses: list[int] = []
    for round_ in range(3):

        def work(i: int, round_: int = round_) -> int:
            if i % 2:
                body = {"platform": "google", "external_id": place_id(round_ * 100 + i)}
                return _call(api, "POST", "/teams/acme/businesses/", json=body)
            return _call(api, "PUT", "/teams/acme/", json={"tier": TIERS[(i + round_) % 6]})

        statuses += run_concurrently(work, 12)
    assert [s for s in statuses if s >= 500] == []
    assert Business.objects.filter(team__team_id="acme").count() == 18
    assert_consistent()


def test_deletes_and_patches_racing_tier_changes_answer_404_not_500(api: dict) -> None:
    assert _call(api, "PUT", "/teams/acme/", json={"tier": "starter"}) == 201
    ids = []
    for n in range(6):
        body = {"platform": "google", "external_id": place_id(n)}
        with httpx.Client(base_url=api["url"], headers=api["product"]) as client:
            ids.append(client.post("/teams/acme/businesses/", json=body).json()["id"])

    def work(i: int) -> int:
        business = ids[i // 2]
        if i % 4 == 0:
            return _call(api, "DELETE", f"/teams/acme/businesses/{business}/")
        if i % 4 == 1:
            return _call(api, "PATCH", f"/teams/acme/businesses/{business}/", json={"name": "x"})
        return _call(api, "PUT", "/teams/acme/", json={"tier": TIERS[i % 6]})

    statuses = run_concurrently(work, 12)
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) <= {200, 204, 404}
    assert_consistent()


def test_parallel_forced_retries_of_one_business_open_one_entry(api: dict) -> None:
    assert _call(api, "PUT", "/teams/acme/", json={"tier": "starter"}) == 201
    with httpx.Client(base_url=api["url"], headers=api["product"]) as client:
        body = {"platform": "google", "external_id": place_id(1), "scrape_types": ["reviews"]}
        business = client.post("/teams/acme/businesses/", json=body).json()["id"]

    statuses = run_concurrently(
        lambda i: _call(api, "POST", f"/admin/businesses/{business}/retry/", key="admin"), 10
    )
    assert [s for s in statuses if s >= 500] == []
    assert RetryEntry.objects.filter(business_id=business, state__in=OPEN_RETRY_STATES).count() == 1
