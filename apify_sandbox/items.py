"""Dataset items a sandbox run produces, per platform, derived from the run input.

The item shapes follow APIFY.md §4 and are built so that the project's own registry attributes
them: `businesses.platforms.PLATFORMS[name].item_key(item)` returns the key of the business the
item was scraped for. The platform is recognised from the actor id (the registry's default ids
plus any SCHEDULER_ACTOR_IDS override); an unknown actor gets an empty dataset, as a real actor
with an input it does not understand would."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apify_sandbox import content
from apify_sandbox.content import Profile, Review
from apify_sandbox.runs import iso
from businesses.platforms import PLATFORMS, IdentifierError, ScrapeType
from scheduler_project import conf

DEFAULT_CAP = 10  # reviews per business when the input sets no limit
# The input field that caps reviews per business, per platform (APIFY.md §4). Booking ignores
# `maxReviews`, so it is deliberately not read there.
CAP_FIELDS = {
    "google": ("maxReviews",),
    "facebook": ("resultsLimit", "maxReviews"),
    "tripadvisor": ("maxItemsPerQuery", "maxReviews"),
    "booking": ("maxReviewsPerHotel",),
}
_REVIEWS_SUFFIX_RE = re.compile(r"(/reviews)+/?$", re.IGNORECASE)
_HEX = "0123456789abcdef"


@dataclass(frozen=True)
class InputTarget:
    """One business as the actor sees it in its input."""

    key: str | None  # the registry key; None when the input entry is not a valid profile
    url: str  # the start URL as given ("" for a Google place id)
    user_data: dict[str, Any] | None = None


def actor_platforms() -> dict[str, tuple[str, str]]:
    """Lower-cased actor id → (platform, scrape type), from the registry and the settings."""
    from django.conf import settings  # only when asked: the sandbox core does not need Django

    table: dict[str, tuple[str, str]] = {}
    for platform in PLATFORMS.values():
        for scrape_type, actor in platform.default_actor_ids.items():
            table[actor.lower()] = (platform.name, str(scrape_type))
    overrides = conf.get().actor_ids if settings.configured else {}
    for name, actor in overrides.items():
        platform_name, _, scrape_type = name.partition(".")
        if platform_name in PLATFORMS and scrape_type in ScrapeType.values:
            table[str(actor).lower()] = (platform_name, scrape_type)
    return table


def generate(
    actor: str,
    run_input: Any,
    *,
    seed: int,
    fate: random.Random,
    error_item_rate: float = 0.0,
    max_items: int | None = None,
) -> list[dict[str, Any]]:
    """All items of one run. Item content depends only on (seed, platform, business key);
    `fate` decides, per target, whether it yields an error item instead."""
    known = actor_platforms().get(actor.replace("~", "/").lower())
    if known is None or not isinstance(run_input, dict):
        return []
    platform, scrape_type = known
    shapes = SHAPES[platform]
    cap = _cap(platform, run_input)
    items: list[dict[str, Any]] = []
    for target in _targets(platform, run_input):
        broken = fate.random() < error_item_rate
        if target.key is None or broken:
            items.append(shapes.error(target))
            continue
        base = content.profile(seed, platform, target.key)
        if scrape_type == ScrapeType.OVERVIEW:
            items.append(shapes.overview(seed, target, base))
            continue
        for index in range(content.review_count(seed, platform, target.key, cap)):
            found = content.review(seed, platform, target.key, index, base)
            items.append(shapes.review(seed, target, base, found))
    limits = [n for n in (max_items, run_input.get("maxItems")) if isinstance(n, int) and n > 0]
    return items[: min(limits)] if limits else items


def _cap(platform: str, run_input: dict[str, Any]) -> int:
    for name in CAP_FIELDS[platform]:
        if isinstance(run_input.get(name), int):
            return max(run_input[name], 0)
    return DEFAULT_CAP


def _targets(platform: str, run_input: dict[str, Any]) -> list[InputTarget]:
    """The businesses named by the input, each with the registry's key for it."""
    entries: list[tuple[str, dict[str, Any] | None]] = []
    if platform == "google":
        entries += [(str(pid), None) for pid in run_input.get("placeIds") or []]
    for entry in run_input.get("startUrls") or []:
        if isinstance(entry, dict) and entry.get("url"):
            user_data = entry.get("userData")
            entries.append((str(entry["url"]), user_data if isinstance(user_data, dict) else None))
        elif isinstance(entry, str):
            entries.append((entry, None))
    targets = []
    for raw, user_data in entries:
        looked_up = page_url(raw) if platform == "facebook" else raw
        try:
            key: str | None = PLATFORMS[platform].normalise(looked_up).key
        except IdentifierError:
            key = raw if platform == "google" and "://" not in raw else None
        url = "" if platform == "google" and "://" not in raw else raw
        targets.append(InputTarget(key=key, url=url, user_data=user_data))
    return targets


def page_url(url: str) -> str:
    """A Facebook start URL without its `/reviews` tab: the page the items name."""
    return _REVIEWS_SUFFIX_RE.sub("", url.strip())


def _custom(target: InputTarget) -> dict[str, Any]:
    """Booking echoes a start URL's `userData` as `customData`, when there was one."""
    return {"customData": target.user_data} if target.user_data is not None else {}


# --- Google Maps -------------------------------------------------------------------------------


def _google_review(seed: int, t: InputTarget, base: Profile, r: Review) -> dict[str, Any]:
    review_id = "Ci9DQUlRQUNvZENodHljRjlo" + content.stable_id(
        seed, "google", t.key, r.index, length=24
    )
    return {
        "placeId": t.key,
        "title": base.name,
        "categoryName": base.category,
        "totalScore": base.rating,
        "reviewsCount": base.review_count,
        "reviewId": review_id,
        "reviewerId": r.author_id,
        "name": r.author,
        "text": r.text,
        "stars": r.stars,
        "publishedAtDate": iso(r.published),
        "likesCount": r.likes,
        "reviewUrl": f"https://www.google.com/maps/reviews/data=!4m8!14m7!1m6!2m5!1s{review_id}",
        "responseFromOwnerText": r.owner_reply,
        "responseFromOwnerDate": iso(r.published.replace(hour=18)) if r.owner_reply else None,
        "originalLanguage": "en",
    }


def _google_overview(seed: int, t: InputTarget, base: Profile) -> dict[str, Any]:
    return {
        "placeId": t.key,
        "title": base.name,
        "totalScore": base.rating,
        "reviewsCount": base.review_count,
        "categoryName": base.category,
        "city": base.city,
        "address": f"{content.stable_number(seed, t.key, digits=2)} Market Street, {base.city}",
        "url": f"https://www.google.com/maps/search/?api=1&query=x&query_place_id={t.key}",
    }


def _google_error(t: InputTarget) -> dict[str, Any]:
    return {"error": "Place not found", "placeId": t.key, **({"url": t.url} if t.url else {})}


# --- Facebook ----------------------------------------------------------------------------------


def _facebook_review(seed: int, t: InputTarget, base: Profile, r: Review) -> dict[str, Any]:
    page = page_url(t.url)
    review_id = "pfbid0" + content.stable_id(seed, "facebook", t.key, r.index, length=30)
    return {
        "facebookUrl": page,
        "pageName": base.name,
        "id": review_id,
        "url": f"{page.split('?')[0]}/posts/{review_id}",
        "text": r.text,
        "date": iso(r.published),
        "isRecommended": r.stars >= 4,
        "tags": ["Friendly staff"] if r.stars >= 4 else [],
        "user": {
            "id": r.author_id,
            "name": r.author,
            "profileUrl": f"https://www.facebook.com/profile.php?id={r.author_id}",
            "profilePic": f"https://scontent.xx.fbcdn.net/v/{r.author_id}.jpg",
        },
        "likesCount": r.likes,
        "commentsCount": 1 if r.owner_reply else 0,
    }


def _facebook_overview(seed: int, t: InputTarget, base: Profile) -> dict[str, Any]:
    page = page_url(t.url)
    recommend = round((base.rating - 1) / 4 * 100)
    return {
        "facebookUrl": page,
        "pageUrl": page,
        "title": base.name,
        "pageName": page.rstrip("/").rsplit("/", 1)[-1],
        "categories": [base.category],
        "likes": base.review_count * 7,
        "followers": base.review_count * 9,
        "rating": f"{recommend}% recommend ({base.review_count} Reviews)",
        "ratingOverall": base.rating,
        "ratingCount": base.review_count,
    }


def _facebook_error(t: InputTarget) -> dict[str, Any]:
    return {"error": "Page not available", "url": t.url, "facebookUrl": page_url(t.url)}


# --- TripAdvisor -------------------------------------------------------------------------------


def _place_info(t: InputTarget, base: Profile) -> dict[str, Any]:
    return {
        "id": t.key,
        "name": base.name,
        "rating": base.rating,
        "numberOfReviews": base.review_count,
        "locationString": base.city,
        "webUrl": t.url,
    }


def _tripadvisor_review(seed: int, t: InputTarget, base: Profile, r: Review) -> dict[str, Any]:
    review_id = str(content.stable_number(seed, "tripadvisor", t.key, r.index))
    return {
        "id": review_id,
        "url": f"https://www.tripadvisor.com/ShowUserReviews-d{t.key}-r{review_id}.html",
        "title": r.title,
        "text": r.text,
        "rating": r.stars,
        "publishedDate": r.published.date().isoformat(),
        "travelDate": r.published.strftime("%Y-%m"),
        "lang": "en",
        "user": {"userId": r.author_id, "name": r.author, "contributions": r.likes + 1},
        "ownerResponse": {"text": r.owner_reply} if r.owner_reply else None,
        "locationId": t.key,
        "placeInfo": _place_info(t, base),
    }


def _tripadvisor_overview(seed: int, t: InputTarget, base: Profile) -> dict[str, Any]:
    return {
        "id": t.key,
        "locationId": t.key,
        "type": "HOTEL" if base.category == "Guesthouse" else "RESTAURANT",
        "category": base.category.lower(),
        **{k: v for k, v in _place_info(t, base).items() if k != "id"},
    }


def _tripadvisor_error(t: InputTarget) -> dict[str, Any]:
    return {"error": "Page not found", "url": t.url, **({"locationId": t.key} if t.key else {})}


# --- Booking -----------------------------------------------------------------------------------


def _booking_review(seed: int, t: InputTarget, base: Profile, r: Review) -> dict[str, Any]:
    return {
        "id": content.stable_id(seed, "booking", t.key, r.index, length=16, alphabet=_HEX),
        "hotelId": str(content.stable_number(seed, "booking", t.key, digits=7)),
        "userName": r.author.split()[0],
        "userLocation": content.rng(seed, r.author_id).choice(["France", "Czechia", "Spain"]),
        "roomInfo": "Double Room" if r.index % 3 else "Superior Suite",
        "stayDate": r.published.strftime("%B %Y"),
        "stayLength": f"{r.index % 4 + 1} nights",
        "reviewDate": iso(r.published),
        "reviewTitle": r.title,
        "rating": f"{r.score10:.1f}",
        "reviewTextParts": {"Liked": r.liked, "Disliked": r.disliked},
        **_custom(t),
    }


def _booking_overview(seed: int, t: InputTarget, base: Profile) -> dict[str, Any]:
    return {
        "url": t.url.split("?")[0],
        "name": base.name,
        "hotelId": str(content.stable_number(seed, "booking", t.key, digits=7)),
        "type": "hotel",
        "rating": round(base.rating * 2, 1),
        "reviews": base.review_count,
        "address": {"full": f"{base.city} centre", "city": base.city},
        **_custom(t),
    }


def _booking_error(t: InputTarget) -> dict[str, Any]:
    return {"error": "Hotel page not found", "url": t.url, **_custom(t)}


@dataclass(frozen=True)
class Shapes:
    review: Callable[[int, InputTarget, Profile, Review], dict[str, Any]]
    overview: Callable[[int, InputTarget, Profile], dict[str, Any]]
    error: Callable[[InputTarget], dict[str, Any]]


SHAPES = {
    "google": Shapes(_google_review, _google_overview, _google_error),
    "facebook": Shapes(_facebook_review, _facebook_overview, _facebook_error),
    "tripadvisor": Shapes(_tripadvisor_review, _tripadvisor_overview, _tripadvisor_error),
    "booking": Shapes(_booking_review, _booking_overview, _booking_error),
}
