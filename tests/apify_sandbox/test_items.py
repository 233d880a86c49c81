"""Sandbox items of every platform map back to the businesses of the input, through the
project's own registry (`PLATFORMS[p].item_key`), whatever the batch."""

from __future__ import annotations

import random
import time

import pytest

from apify_sandbox import items as sandbox_items
from apify_sandbox.server import Sandbox
from businesses.platforms import PLATFORMS, ScrapeType, Target
from tests.apify_sandbox.conftest import client_for

EXTERNAL_IDS = {
    "google": ["ChIJN1t_tDeuEmsRUsoyG83frY4", "ChIJsandbox00000000000002", "ChIJsandbox0000000003"],
    "facebook": [
        "https://www.facebook.com/goldenforkbistro",
        "https://m.facebook.com/OldHarbour/reviews/",
        "https://www.facebook.com/profile.php?id=100063512345678",
    ],
    "tripadvisor": [
        "https://www.tripadvisor.com/Restaurant_Review-g187147-d1234567-Reviews-Le_Bistro.html",
        "https://www.tripadvisor.co.uk/Hotel_Review-g186338-d7654321-Reviews-The_Inn.html",
    ],
    "booking": [
        "https://www.booking.com/hotel/fr/le-grand.html",
        "https://www.booking.com/hotel/cz/u-zlate-hrusky.en-gb.html?checkin=2026-01-01",
    ],
}


def targets(platform: str) -> list[Target]:
    found = []
    for n, raw in enumerate(EXTERNAL_IDS[platform], 1):
        identity = PLATFORMS[platform].normalise(raw)
        found.append(Target(business_id=n, external_id=identity.external_id, key=identity.key))
    return found


def scrape(sandbox: Sandbox, actor: str, run_input: dict) -> list[dict]:
    client = client_for(sandbox)
    run = client.actor(actor).start(run_input=run_input)
    deadline = time.monotonic() + 5
    while client.run(run.id).get().status == "RUNNING":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return list(client.dataset(run.default_dataset_id).iterate_items())


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_review_items_of_every_platform_map_back_to_their_businesses(sandbox_factory, platform):
    registry, batch = PLATFORMS[platform], targets(platform)
    run_input = registry.batch_input(ScrapeType.REVIEWS, batch)

    found = scrape(sandbox_factory(delay=0), registry.actor_id(ScrapeType.REVIEWS), run_input)

    keys = [registry.item_key(item) for item in found]
    assert found and set(keys) <= {t.key for t in batch}
    assert all("error" not in item and item.get("id", item.get("reviewId")) for item in found)
    ids = [item.get("id", item.get("reviewId")) for item in found]
    assert len(set(ids)) == len(ids)  # review ids are unique within the run


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_overview_runs_give_exactly_one_item_per_business(sandbox_factory, platform):
    registry, batch = PLATFORMS[platform], targets(platform)
    run_input = registry.batch_input(ScrapeType.OVERVIEW, batch)

    found = scrape(sandbox_factory(delay=0), registry.actor_id(ScrapeType.OVERVIEW), run_input)

    assert [registry.item_key(item) for item in found] == [t.key for t in batch]


def test_the_overview_shapes_carry_rating_count_and_name(sandbox_factory):
    sandbox = sandbox_factory(delay=0)
    (google,) = scrape(sandbox, "compass/crawler-google-places", {"placeIds": ["ChIJ" + "x" * 20]})
    assert google["title"] and 1 <= google["totalScore"] <= 5 and google["reviewsCount"] > 0
    (booking,) = scrape(
        sandbox,
        "voyager/booking-scraper",
        PLATFORMS["booking"].batch_input(ScrapeType.OVERVIEW, targets("booking")[:1]),
    )
    assert booking["customData"] == {"businessId": 1, "key": "fr/le-grand"}
    assert booking["name"] and 0 <= booking["rating"] <= 10 and booking["reviews"] > 0


def test_booking_reviews_echo_user_data_and_rate_out_of_ten(sandbox_factory):
    batch = targets("booking")
    run_input = PLATFORMS["booking"].batch_input(ScrapeType.REVIEWS, batch)

    found = scrape(sandbox_factory(delay=0), "voyager/booking-reviews-scraper", run_input)

    for item in found:
        assert item["customData"]["businessId"] in {t.business_id for t in batch}
        assert 0 <= float(item["rating"]) <= 10 and set(item["reviewTextParts"]) == {
            "Liked",
            "Disliked",
        }


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_an_error_item_rate_of_1_gives_one_attributable_error_item_per_business(
    sandbox_factory, platform
):
    registry, batch = PLATFORMS[platform], targets(platform)
    run_input = registry.batch_input(ScrapeType.REVIEWS, batch)

    found = scrape(
        sandbox_factory(delay=0, error_item_rate=1.0),
        registry.actor_id(ScrapeType.REVIEWS),
        run_input,
    )

    assert all(item["error"] for item in found)
    assert [registry.item_key(item) for item in found] == [t.key for t in batch]


def test_an_unknown_actor_succeeds_with_an_empty_dataset(sandbox_factory):
    assert scrape(sandbox_factory(delay=0), "someone/other-actor", {"placeIds": ["x"]}) == []


def test_an_actor_id_overridden_in_the_settings_is_recognised(sandbox_factory, settings):
    settings.SCHEDULER_ACTOR_IDS = {"google.reviews": "me/my-reviews"}
    run_input = PLATFORMS["google"].batch_input(ScrapeType.REVIEWS, targets("google"))

    found = scrape(sandbox_factory(delay=0), "me/my-reviews", run_input)

    assert found and all(item["placeId"] for item in found)


def test_a_business_gets_the_same_reviews_in_any_batch_and_alone():
    """Ids depend on the business, not the batch: a retry or a rebalanced batch re-finds them."""
    registry, batch = PLATFORMS["tripadvisor"], targets("tripadvisor")

    def review_ids(scraped: list[Target]) -> list[str]:
        run_input = registry.batch_input(ScrapeType.REVIEWS, scraped)
        found = sandbox_items.generate(
            "maxcopell~tripadvisor-reviews", run_input, seed=5, fate=random.Random(0)
        )
        return [i["id"] for i in found if registry.item_key(i) == batch[1].key]

    assert review_ids(batch) == review_ids(batch[1:]) == review_ids(list(reversed(batch)))
    assert review_ids(batch)
