"""Runs that cost less (SPEC §7 Cost): a place tracked by several businesses of one run is
sent once, and a reviews run asks only for reviews newer than its batch's oldest last success
minus the overlap, where the actor takes such a bound."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ImproperlyConfigured

from businesses.models import Business, ScrapeOutcome, Team
from businesses.platforms import PLATFORMS, Target
from businesses.services import business_register
from scheduler_project import conf
from schedules.attribution import attribute_items
from schedules.services.run_input import run_input_build, run_newer_than
from tests.conftest import place_id, register_google

GOOGLE = PLATFORMS["google"]
MOMENT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def entry(business: Business) -> dict:
    return {
        "business_id": business.id,
        "team_id": business.team_id,
        "external_id": business.external_id,
        "key": business.platform_key,
    }


def succeeded(business: Business, at: datetime, status: str = "succeeded") -> None:
    ScrapeOutcome.objects.create(
        business=business, scrape_type="reviews", last_scraped_at=at, last_status=status
    )


@pytest.fixture
def shared(alice: Team, bob: Team) -> tuple[Business, Business, Business]:
    """Alice and Bob track one place; Alice also tracks another."""
    place = place_id()
    a_shared = business_register(team=alice, platform="google", external_id=place)
    b_shared = business_register(team=bob, platform="google", external_id=place)
    (a_own,) = register_google(alice)
    return a_shared, b_shared, a_own


# --- One place, sent once ---------------------------------------------------------------------


def test_a_place_two_teams_track_is_sent_once_and_its_items_reach_both(shared) -> None:
    a_shared, b_shared, a_own = shared
    snapshot = [entry(a_shared), entry(b_shared), entry(a_own)]

    run_input = run_input_build(platform=GOOGLE, scrape_type="reviews", snapshot=snapshot)

    assert run_input["placeIds"] == [a_shared.platform_key, a_own.platform_key]
    items = [
        {"placeId": a_shared.platform_key, "reviewId": "r1"},
        {"placeId": a_own.platform_key, "reviewId": "r2"},
        {"placeId": place_id(), "reviewId": "stray"},  # a place outside the snapshot
    ]
    result = attribute_items(platform=GOOGLE, snapshot=snapshot, items=items)
    assert sorted((b, i) for b, i, _ in result.matched) == sorted(
        [(a_shared.id, "r1"), (b_shared.id, "r1"), (a_own.id, "r2")]
    )
    assert [(reason, item["reviewId"]) for reason, _, item in result.unmatched] == [
        ("not_in_snapshot", "stray")
    ]


@pytest.mark.parametrize("platform", sorted(PLATFORMS))
@pytest.mark.parametrize("scrape_type", ["reviews", "overview"])
def test_every_platform_sends_each_place_once(platform: str, scrape_type: str) -> None:
    urls = {
        "google": ("ChIJN1t_tDeuEmsRUsoyG83frY4", "ChIJP3Sa8ziYEmsRUKgyFmh9AQM"),
        "facebook": ("https://www.facebook.com/one", "https://www.facebook.com/two"),
        "tripadvisor": (
            "https://www.tripadvisor.com/Hotel_Review-g1-d11-Reviews-One.html",
            "https://www.tripadvisor.com/Hotel_Review-g1-d22-Reviews-Two.html",
        ),
        "booking": (
            "https://www.booking.com/hotel/fr/one.html",
            "https://www.booking.com/hotel/fr/two.html",
        ),
    }[platform]
    registry = PLATFORMS[platform]
    one, two = (registry.normalise(url) for url in urls)
    targets = [
        Target(business_id=n, external_id=identity.external_id, key=identity.key)
        for n, identity in enumerate([one, one, two, one], start=1)
    ]

    deduped = registry.batch_input(scrape_type, targets)

    assert deduped == registry.batch_input(scrape_type, [targets[0], targets[2]])


def test_per_run_caps_count_places_not_businesses(settings) -> None:
    settings.SCHEDULER_MAX_REVIEWS_PER_BUSINESS = 50
    url = "https://www.tripadvisor.com/Hotel_Review-g1-d11-Reviews-One.html"
    same_place = [Target(business_id=n, external_id=url, key="11") for n in (1, 2, 3)]

    assert PLATFORMS["tripadvisor"].batch_input("reviews", same_place)["maxItems"] == 50
    booking = [Target(n, "https://www.booking.com/hotel/fr/a.html", "fr/a") for n in (1, 2)]
    assert PLATFORMS["booking"].batch_input("overview", booking)["maxItems"] == 1


# --- Only newer than ----------------------------------------------------------------------------


def test_the_platforms_that_take_a_bound_declare_its_field() -> None:
    fields = {name: p.newer_than_field for name, p in PLATFORMS.items()}
    assert fields == {
        "google": "reviewsStartDate",
        "facebook": None,
        "tripadvisor": "lastReviewDate",
        "booking": "cutoffDate",
    }


def test_the_bound_is_the_oldest_last_success_minus_the_overlap(
    shared, settings, django_assert_num_queries
) -> None:
    a_shared, b_shared, a_own = shared
    succeeded(a_shared, MOMENT)
    succeeded(b_shared, MOMENT - timedelta(days=3))  # the oldest
    succeeded(a_own, MOMENT - timedelta(days=1))
    ScrapeOutcome.objects.create(  # another scrape type's outcome is not this run's
        business=b_shared,
        scrape_type="overview",
        last_scraped_at=MOMENT - timedelta(days=30),
        last_status="succeeded",
    )
    snapshot = [entry(a_shared), entry(b_shared), entry(a_own)]
    oldest = MOMENT - timedelta(days=3)

    with django_assert_num_queries(1):
        run_input = run_input_build(platform=GOOGLE, scrape_type="reviews", snapshot=snapshot)

    assert conf.get().newer_than_overlap_hours == 48
    assert run_input["reviewsStartDate"] == (oldest - timedelta(hours=48)).date().isoformat()
    assert run_input["reviewsStartDate"] == "2026-11-15"
    settings.SCHEDULER_NEWER_THAN_OVERLAP_HOURS = 0
    assert run_newer_than(platform=GOOGLE, scrape_type="reviews", snapshot=snapshot) == oldest


@pytest.mark.parametrize("other", ["never", "failed"])
def test_no_bound_while_any_business_has_no_last_success(
    shared, other: str, django_assert_num_queries
) -> None:
    a_shared, b_shared, a_own = shared
    succeeded(a_shared, MOMENT)
    succeeded(a_own, MOMENT)
    if other == "failed":  # when it last succeeded is unknown: it needs its full history
        succeeded(b_shared, MOMENT, status="failed")
    snapshot = [entry(a_shared), entry(b_shared), entry(a_own)]

    with django_assert_num_queries(1):
        run_input = run_input_build(platform=GOOGLE, scrape_type="reviews", snapshot=snapshot)

    assert "reviewsStartDate" not in run_input


def test_no_bound_for_an_overview_run_nor_a_platform_without_the_field(
    alice: Team, django_assert_num_queries
) -> None:
    page = business_register(
        team=alice, platform="facebook", external_id="https://www.facebook.com/joes"
    )
    (place,) = register_google(alice)
    for business in (page, place):
        succeeded(business, MOMENT)
        ScrapeOutcome.objects.create(
            business=business,
            scrape_type="overview",
            last_scraped_at=MOMENT,
            last_status="succeeded",
        )
    facebook, google = PLATFORMS["facebook"], GOOGLE

    with django_assert_num_queries(0):
        reviews = run_input_build(platform=facebook, scrape_type="reviews", snapshot=[entry(page)])
        overview = run_input_build(platform=google, scrape_type="overview", snapshot=[entry(place)])

    assert reviews == facebook.batch_input(
        "reviews", [Target(page.id, page.external_id, page.platform_key)]
    )
    assert "reviewsStartDate" not in overview
    bounded = run_input_build(platform=google, scrape_type="reviews", snapshot=[entry(place)])
    assert bounded["reviewsStartDate"] == "2026-11-18"


def test_batch_input_puts_the_bound_only_in_a_reviews_run() -> None:
    target = Target(1, "https://www.booking.com/hotel/fr/a.html", "fr/a")
    booking = PLATFORMS["booking"]
    late_evening = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)

    assert booking.batch_input("reviews", [target], newer_than=late_evening)["cutoffDate"] == (
        "2026-11-20"
    )
    assert "cutoffDate" not in booking.batch_input("overview", [target], newer_than=late_evening)
    assert "cutoffDate" not in booking.batch_input("reviews", [target])


def test_the_overlap_setting_is_a_whole_number_of_hours_not_below_zero() -> None:
    name = "SCHEDULER_NEWER_THAN_OVERLAP_HOURS"
    assert conf.from_environ({})[name] == 48
    assert conf.from_environ({name: "0"})[name] == 0
    for raw in ("-1", "2d"):
        with pytest.raises(ImproperlyConfigured, match=name):
            conf.from_environ({name: raw})
