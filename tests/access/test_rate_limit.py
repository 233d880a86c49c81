"""The product API's rate limit over time: a sliding window of one minute, so a budget spent
at the end of a minute is not whole again at the next minute's start, and a refusal says
when to come back and does not spend the budget it waits for."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access.throttles import ProductRateThrottle
from businesses.models import Team

RATE = 6
MINUTE = 60 * 1_000_000  # a window start far from zero, as time.time() is


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The throttle's clock, set by the test; the rate 6 per minute."""
    now = [float(MINUTE)]
    monkeypatch.setattr(ProductRateThrottle, "timer", lambda self: now[0])
    monkeypatch.setattr(ProductRateThrottle, "THROTTLE_RATES", {"product": f"{RATE}/min"})
    return now


def _statuses(client: APIClient, count: int) -> list[int]:
    return [client.get("/api/v1/teams/alice/").status_code for _ in range(count)]


def test_a_budget_spent_late_in_a_minute_comes_back_as_it_slides(
    product_client: APIClient, alice: Team, clock: list[float]
) -> None:
    clock[0] += 59
    assert _statuses(product_client, RATE + 1) == [200] * RATE + [429]
    clock[0] += 2  # a new minute, the last one's 6 requests still almost all inside
    refused = product_client.get("/api/v1/teams/alice/")
    assert refused.status_code == 429
    # 6 x (1 - e/60) + 1 <= 6 from e = 10 s on: 9 s from now.
    assert int(refused["Retry-After"]) == 9
    clock[0] += 9
    assert _statuses(product_client, 2) == [200, 429]


def test_refusals_do_not_spend_the_budget(
    product_client: APIClient, alice: Team, clock: list[float]
) -> None:
    assert _statuses(product_client, RATE + 20) == [200] * RATE + [429] * 20
    refused = product_client.get("/api/v1/teams/alice/")
    # Into the next minute, while this one's 6 fade to room for one: 60 + 10 s.
    assert int(refused["Retry-After"]) == 70
    clock[0] += 70
    assert _statuses(product_client, 2) == [200, 429]


def test_each_key_has_its_own_budget(
    product_client: APIClient, admin_client_key: APIClient, alice: Team, clock: list[float]
) -> None:
    assert _statuses(product_client, RATE + 1) == [200] * RATE + [429]
    assert _statuses(admin_client_key, RATE) == [200] * RATE
