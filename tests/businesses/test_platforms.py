"""The platform registry: identifiers, inputs and attribution keys, with no database."""

from __future__ import annotations

import dataclasses

import pytest

from businesses import platforms, url_identifiers
from businesses.platforms import (
    PLATFORMS,
    IdentifierError,
    ScrapeType,
    Target,
    get_platform,
)


@pytest.mark.parametrize(
    ("platform", "raw", "external_id", "key"),
    [
        (
            "google",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
        ),
        (
            "google",
            "  place_id:ChIJN1t_tDeuEmsRUsoyG83frY4 ",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
        ),
        (
            "google",
            "https://www.google.com/maps/search/?api=1&query=x&query_place_id=ChIJN1t_tDeuEmsRUsoyG83frY4",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
            "ChIJN1t_tDeuEmsRUsoyG83frY4",
        ),
        (
            "facebook",
            "facebook.com/JoesDiner",
            "https://www.facebook.com/joesdiner",
            "https://www.facebook.com/joesdiner",
        ),
        (
            "facebook",
            "http://m.facebook.com/joesdiner/reviews/?ref=page_internal",
            "https://www.facebook.com/joesdiner",
            "https://www.facebook.com/joesdiner",
        ),
        (
            "facebook",
            "https://web.facebook.com/joesdiner//",
            "https://www.facebook.com/joesdiner",
            "https://www.facebook.com/joesdiner",
        ),
        (
            "facebook",
            "https://fb.com/profile.php?id=100012345&sk=reviews",
            "https://www.facebook.com/profile.php?id=100012345",
            "https://www.facebook.com/profile.php?id=100012345",
        ),
        (
            "tripadvisor",
            "https://www.tripadvisor.co.uk/Hotel_Review-g187147-d188729-Reviews-or10-Le_Grand-Paris.html?m=1#REVIEWS",
            "https://www.tripadvisor.com/Hotel_Review-g187147-d188729-Reviews-Le_Grand-Paris.html",
            "188729",
        ),
        (
            "tripadvisor",
            "tripadvisor.com/Restaurant_Review-g60763-d425301-Reviews-Joes.html/",
            "https://www.tripadvisor.com/Restaurant_Review-g60763-d425301-Reviews-Joes.html",
            "425301",
        ),
        (
            "booking",
            "https://www.booking.com/hotel/fr/le-grand.en-gb.html?checkin=2026-01-01",
            "https://www.booking.com/hotel/fr/le-grand.html",
            "fr/le-grand",
        ),
        (
            "booking",
            "http://booking.com/hotel/FR/Le-Grand.html/",
            "https://www.booking.com/hotel/fr/le-grand.html",
            "fr/le-grand",
        ),
        # A port, an encoded space in a query string that is dropped, a country domain.
        (
            "facebook",
            "facebook.com:443/joes?ref=a%20b",
            "https://www.facebook.com/joes",
            "https://www.facebook.com/joes",
        ),
        (
            "tripadvisor",
            "https://www.tripadvisor.com.au/Hotel_Review-g1-d2-Reviews-X.html",
            "https://www.tripadvisor.com/Hotel_Review-g1-d2-Reviews-X.html",
            "2",
        ),
    ],
)
def test_it_normalises_identifier_variants_to_one_identity(
    platform: str, raw: str, external_id: str, key: str
) -> None:
    identity = get_platform(platform).normalise(raw)
    assert (identity.external_id, identity.key) == (external_id, key)


@pytest.mark.parametrize(
    ("platform", "raw", "reason"),
    [
        ("google", "ChIJ short", platforms.GOOGLE_PLACE_ID_INVALID),
        ("google", "", platforms.GOOGLE_PLACE_ID_INVALID),
        ("facebook", "https://twitter.com/joes", platforms.URL_INVALID.format(platform="Facebook")),
        ("facebook", "https://www.facebook.com/", platforms.FACEBOOK_PAGE_MISSING),
        ("facebook", "https://www.facebook.com/profile.php", platforms.FACEBOOK_PROFILE_ID_MISSING),
        ("facebook", "ftp://facebook.com/joes", platforms.URL_SCHEME_INVALID),
        (
            "tripadvisor",
            "https://www.tripadvisor.com/Tourism-g187147-Paris.html",
            platforms.TRIPADVISOR_LOCATION_MISSING,
        ),
        (
            "tripadvisor",
            "https://www.notadvisor.com/x-d1-.html",
            platforms.URL_INVALID.format(platform="TripAdvisor"),
        ),
        (
            "booking",
            "https://www.booking.com/searchresults.html?ss=Paris",
            platforms.BOOKING_HOTEL_MISSING,
        ),
        ("google", "http://[place_id?x=1", platforms.GOOGLE_PLACE_ID_INVALID),
        ("google", "ChIJ<script>alert(1)</script>", platforms.GOOGLE_PLACE_ID_INVALID),
    ],
)
def test_it_rejects_malformed_identifiers_with_the_reason(
    platform: str, raw: str, reason: str
) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        get_platform(platform).normalise(raw)
    assert str(excinfo.value) == reason


def test_an_unknown_platform_names_the_accepted_ones() -> None:
    with pytest.raises(IdentifierError, match="google, facebook, tripadvisor, booking"):
        get_platform("yelp")


def test_every_platform_has_an_actor_for_every_scrape_type() -> None:
    assert set(PLATFORMS) == {"google", "facebook", "tripadvisor", "booking"}
    for platform in PLATFORMS.values():
        for scrape_type in ScrapeType.values:
            assert "/" in platform.actor_id(scrape_type)
    assert PLATFORMS["google"].actor_id("reviews") == "compass/google-maps-reviews-scraper"
    assert PLATFORMS["booking"].actor_id("reviews") == "voyager/booking-reviews-scraper"


def test_settings_override_actor_ids_and_capacity(settings) -> None:
    settings.SCHEDULER_ACTOR_IDS = {"google.reviews": "me/my-reviews"}
    settings.SCHEDULER_CAPACITY = {"google": 7}
    assert PLATFORMS["google"].actor_id("reviews") == "me/my-reviews"
    assert PLATFORMS["google"].actor_id("overview") == "compass/crawler-google-places"
    assert PLATFORMS["google"].capacity == 7
    assert PLATFORMS["facebook"].capacity == PLATFORMS["facebook"].default_capacity


TARGETS = [
    Target(business_id=1, external_id="https://www.booking.com/hotel/fr/a.html", key="fr/a"),
    Target(business_id=2, external_id="https://www.booking.com/hotel/fr/b.html", key="fr/b"),
]


def test_batch_inputs_carry_every_business_of_the_batch(settings) -> None:
    settings.SCHEDULER_MAX_REVIEWS_PER_BUSINESS = 30
    google = PLATFORMS["google"].batch_input(
        "reviews",
        [
            Target(1, "ChIJaaaaaaaaaaaaaaaaaaaa", "ChIJaaaaaaaaaaaaaaaaaaaa"),
            Target(2, "ChIJbbbbbbbbbbbbbbbbbbbb", "ChIJbbbbbbbbbbbbbbbbbbbb"),
        ],
    )
    assert google["placeIds"] == ["ChIJaaaaaaaaaaaaaaaaaaaa", "ChIJbbbbbbbbbbbbbbbbbbbb"]
    assert google["maxReviews"] == 30
    facebook = PLATFORMS["facebook"].batch_input(
        "reviews", [Target(3, "https://www.facebook.com/joes", "https://www.facebook.com/joes")]
    )
    assert facebook == {
        "startUrls": [{"url": "https://www.facebook.com/joes/reviews"}],
        "resultsLimit": 30,
    }
    booking = PLATFORMS["booking"].batch_input("reviews", TARGETS)
    assert booking["startUrls"][1] == {
        "url": "https://www.booking.com/hotel/fr/b.html",
        "userData": {"businessId": 2, "key": "fr/b"},
    }
    assert booking["maxReviewsPerHotel"] == 30
    tripadvisor = PLATFORMS["tripadvisor"].batch_input(
        "reviews", [Target(4, "https://www.tripadvisor.com/H-g1-d9-Reviews-X.html", "9")]
    )
    assert tripadvisor["maxItemsPerQuery"] == 30 and tripadvisor["maxItems"] == 30


def test_single_business_input_is_the_batch_input_of_one() -> None:
    booking = PLATFORMS["booking"]
    assert booking.single_input("reviews", TARGETS[0]) == booking.batch_input(
        "reviews", TARGETS[:1]
    )
    assert len(booking.single_input("overview", TARGETS[0])["startUrls"]) == 1


@pytest.mark.parametrize(
    ("platform", "item", "key"),
    [
        (
            "google",
            {"placeId": "ChIJaaaaaaaaaaaaaaaaaaaa", "reviewId": "r1"},
            "ChIJaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            "facebook",
            {"facebookUrl": "https://m.facebook.com/Joes/reviews/"},
            "https://www.facebook.com/joes",
        ),
        ("tripadvisor", {"locationId": 188729}, "188729"),
        ("tripadvisor", {"placeInfo": {"id": "425301"}}, "425301"),
        ("booking", {"customData": {"businessId": 2, "key": "fr/b"}}, "fr/b"),
        ("booking", {"hotelUrl": "https://www.booking.com/hotel/fr/b.en-gb.html"}, "fr/b"),
        ("google", {"reviewId": "no place"}, None),
        ("facebook", {"facebookUrl": "https://example.com/x"}, None),
    ],
)
def test_item_keys_match_the_keys_of_normalised_businesses(
    platform: str, item: dict, key: str | None
) -> None:
    assert get_platform(platform).item_key(item) == key


def test_a_fifth_platform_is_one_registry_entry(monkeypatch) -> None:
    yelp = dataclasses.replace(
        PLATFORMS["google"],
        name="yelp",
        label="Yelp",
        default_actor_ids={"reviews": "someone/yelp-reviews", "overview": "someone/yelp"},
    )
    monkeypatch.setitem(PLATFORMS, "yelp", yelp)
    assert get_platform("yelp").actor_id("reviews") == "someone/yelp-reviews"
    assert get_platform("yelp").normalise("ChIJN1t_tDeuEmsRUsoyG83frY4").key.startswith("ChIJ")


def unsafe(char: str) -> str:
    return url_identifiers.URL_UNSAFE_CHARACTER.format(char=repr(char))


@pytest.mark.parametrize(
    ("platform", "raw", "reason"),
    [
        ("facebook", "https://www.facebook.com/<script>alert(1)</script>", unsafe("<")),
        ("facebook", "https://www.facebook.com/joes%3Cscript%3E", unsafe("<")),  # encoded
        ("facebook", "https://www.facebook.com/jo es", unsafe(" ")),
        ("facebook", "https://www.facebook.com/jo%0Aes", unsafe("\n")),
        ("facebook", "https://www.facebook.com/joes\x00", unsafe("\x00")),
        ("facebook", "https://www.facebook.com/jo\u202eseo", unsafe("\u202e")),  # bidi override
        ("facebook", "https://www.facebook.com/joes?ref='x'", unsafe("'")),
        ("facebook", "https://evil.com\\@facebook.com/joes", unsafe("\\")),
        ("facebook", "javascript:alert(1)", platforms.URL_SCHEME_INVALID),
        ("facebook", "javascript://facebook.com/%0Aalert(1)", platforms.URL_SCHEME_INVALID),
        ("facebook", "data:text/html,hi", platforms.URL_SCHEME_INVALID),
        ("facebook", "https://facebook.com@evil.com/x", url_identifiers.URL_USERINFO),
        ("facebook", "https://user:pw@facebook.com/joes", url_identifiers.URL_USERINFO),
        (
            "facebook",
            "https://facebook.com.evil.com/joes",
            platforms.URL_INVALID.format(platform="Facebook"),
        ),
        (
            "facebook",
            "https://[facebook.com/joes",
            platforms.URL_INVALID.format(platform="Facebook"),
        ),
        (
            "tripadvisor",
            "https://www.tripadvisor.com.evl/Hotel_Review-g1-d2-Reviews-X.html",
            platforms.URL_INVALID.format(platform="TripAdvisor"),
        ),
        (
            "tripadvisor",
            'https://www.tripadvisor.de/Hotel_Review-g1-d2-Reviews-X"onload=x.html',
            unsafe('"'),
        ),
        ("booking", "https://www.booking.com/hotel/fr/`x`.html", unsafe("`")),
        (
            "booking",
            "https://booking.com.evil.com/hotel/fr/x.html",
            platforms.URL_INVALID.format(platform="Booking"),
        ),
    ],
)
def test_a_profile_url_is_http_of_the_platforms_host_without_markup(
    platform: str, raw: str, reason: str
) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        get_platform(platform).normalise(raw)
    assert str(excinfo.value) == reason
