"""THE platform registry: one entry per scraped platform.

Everything platform-specific — actor ids, batch capacity, identifier normalisation, actor
input and the item → business key used for attribution — comes from `PLATFORMS`. Adding a
fifth platform is one more `Platform(...)` entry below; no view or service changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from urllib.parse import parse_qs, urlsplit

from django.db import models
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.timezone import is_naive

from businesses.url_identifiers import URL_INVALID as URL_INVALID
from businesses.url_identifiers import URL_SCHEME_INVALID as URL_SCHEME_INVALID
from businesses.url_identifiers import IdentifierError, split_url
from scheduler_project import conf


class ScrapeType(models.TextChoices):
    REVIEWS = "reviews", "Reviews (new since the last scrape)"
    OVERVIEW = "overview", "Overview (rating, review count, name)"


@dataclass(frozen=True)
class Identity:
    """A normalised identifier: `external_id` is shown to users, `key` attributes items
    and makes a business unique within its team and platform."""

    external_id: str
    key: str


@dataclass(frozen=True)
class Target:
    """One business as an actor run sees it (an entry of an execution's snapshot)."""

    business_id: int
    external_id: str
    key: str


InputBuilder = Callable[[str, Sequence[Target], int], dict]


@dataclass(frozen=True)
class Platform:
    name: str
    label: str
    default_actor_ids: Mapping[str, str]
    default_capacity: int
    normalise: Callable[[str], Identity]
    build_input: InputBuilder
    item_key: Callable[[dict], str | None]
    item_id_fields: tuple[str, ...] = ("id",)
    published_at_fields: tuple[str, ...] = ()
    # scrape type → MB a run requests; unset types take SCHEDULER_RUN_MEMORY_MBYTES.
    default_memory_mbytes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    # The reviews actor's "only reviews newer than" input field (an ISO date, YYYY-MM-DD,
    # UTC), so a run asks only for what is new; None where the actor takes no such bound.
    newer_than_field: str | None = None

    def actor_id(self, scrape_type: str) -> str:
        override = conf.get().actor_ids.get(f"{self.name}.{scrape_type}")
        return override or self.default_actor_ids[scrape_type]

    def run_memory_mbytes(self, scrape_type: str) -> int:
        """The memory one run of this platform and scrape type requests (what it holds of the
        account's memory limit while it runs): SCHEDULER_RUN_MEMORY ("google.reviews=4096"),
        else the registry's, else SCHEDULER_RUN_MEMORY_MBYTES."""
        settings = conf.get()
        override = settings.run_memory.get(f"{self.name}.{scrape_type}")
        return override or self.default_memory_mbytes.get(scrape_type) or settings.run_memory_mbytes

    @property
    def capacity(self) -> int:
        return int(conf.get().capacity.get(self.name, self.default_capacity))

    def batch_input(
        self, scrape_type: str, targets: Sequence[Target], newer_than: datetime | None = None
    ) -> dict:
        """Actor input that scrapes every target in ONE run. A place several businesses track
        (two teams, one place) is sent once: attribution gives its items to each of them, and
        per-run caps count places, not businesses. `newer_than` bounds a reviews run where the
        actor takes a bound (the date is floored: the run's overlap absorbs the rounding)."""
        places: dict[str, Target] = {}
        for target in targets:
            places.setdefault(target.key, target)  # the first business of each place
        run_input = self.build_input(
            scrape_type, list(places.values()), conf.get().max_reviews_per_business
        )
        if newer_than and self.newer_than_field and scrape_type == ScrapeType.REVIEWS:
            run_input[self.newer_than_field] = newer_than.astimezone(UTC).date().isoformat()
        return run_input

    def single_input(self, scrape_type: str, target: Target) -> dict:
        """Actor input for a single-business (retry) run."""
        return self.batch_input(scrape_type, [target])

    def item_id(self, item: dict) -> str:
        """The platform's id of an item; items without one get a content hash, so the same
        item scraped twice is still stored once."""
        for field in self.item_id_fields:
            if item.get(field):
                return str(item[field])[:300]
        canonical = json.dumps(item, sort_keys=True, separators=(",", ":"), default=str)
        return "sha1:" + hashlib.sha1(canonical.encode()).hexdigest()

    def item_published_at(self, item: dict) -> datetime | None:
        for field in self.published_at_fields:
            value = item.get(field)
            if isinstance(value, str) and (moment := _parse_moment(value)):
                return moment
        return None


def _parse_moment(value: str) -> datetime | None:
    try:
        moment = parse_datetime(value) or (
            datetime.combine(day, time.min) if (day := parse_date(value[:10])) else None
        )
    except ValueError:
        return None
    if moment is not None and is_naive(moment):
        moment = moment.replace(tzinfo=UTC)
    return moment


# --- Google ----------------------------------------------------------------------------------

GOOGLE_PLACE_ID_RE = re.compile(r"[A-Za-z0-9_-]{16,300}")
GOOGLE_PLACE_ID_INVALID = (
    "Must be a Google place id (16+ letters, digits, '-' or '_', e.g. ChIJN1t_tDeuEmsRUsoyG83frY4)."
)


def normalise_google(raw: str) -> Identity:
    value = raw.strip()
    if "place_id" in value and ("?" in value or "&" in value):
        try:
            query = parse_qs(urlsplit(value).query)
        except ValueError:  # an unclosed "[" of an IPv6 host: no place id to read
            query = {}
        value = (query.get("query_place_id") or query.get("place_id") or [""])[0]
    value = value.removeprefix("place_id:")
    if not GOOGLE_PLACE_ID_RE.fullmatch(value):
        raise IdentifierError(GOOGLE_PLACE_ID_INVALID)
    return Identity(external_id=value, key=value)


def build_google_input(scrape_type: str, targets: Sequence[Target], max_reviews: int) -> dict:
    place_ids = [t.key for t in targets]
    if scrape_type == ScrapeType.OVERVIEW:
        return {"placeIds": place_ids, "maxReviews": 0, "maxImages": 0, "language": "en"}
    return {
        "placeIds": place_ids,
        "maxReviews": max_reviews,
        "reviewsSort": "newest",
        "reviewsOrigin": "all",
        "language": "en",
        "personalData": False,
    }


def google_item_key(item: dict) -> str | None:
    return item.get("placeId") or None


# --- Facebook --------------------------------------------------------------------------------

# Profile URLs are split and checked (scheme, host, user name, unsafe characters) by
# businesses/url_identifiers.py; each normaliser below reads its path.
FACEBOOK_HOST_RE = re.compile(r"(facebook|fb)\.com")
TRAILING_REVIEWS_RE = re.compile(r"(/reviews)+$", re.IGNORECASE)
FACEBOOK_PAGE_MISSING = "Must name a Facebook page, e.g. https://www.facebook.com/yourpage."
FACEBOOK_PROFILE_ID_MISSING = "A profile.php URL must carry its numeric ?id=."
_FACEBOOK_NOT_PAGES = {"login", "sharer", "sharer.php", "groups", "events", "watch", "search"}


def normalise_facebook(raw: str) -> Identity:
    _, path, query = split_url(raw, "Facebook", FACEBOOK_HOST_RE)
    path = TRAILING_REVIEWS_RE.sub("", path).rstrip("/").lower()
    if path == "/profile.php":
        profile_id = parse_qs(query).get("id", [""])[0]
        if not profile_id.isdigit():
            raise IdentifierError(FACEBOOK_PROFILE_ID_MISSING)
        path = f"/profile.php?id={profile_id}"
    elif not path or path.split("/")[1] in _FACEBOOK_NOT_PAGES:
        raise IdentifierError(FACEBOOK_PAGE_MISSING)
    url = f"https://www.facebook.com{path}"
    return Identity(external_id=url, key=url)


def build_facebook_input(scrape_type: str, targets: Sequence[Target], max_reviews: int) -> dict:
    if scrape_type == ScrapeType.OVERVIEW:
        return {"startUrls": [{"url": t.external_id} for t in targets]}
    return {
        "startUrls": [{"url": facebook_reviews_url(t.external_id)} for t in targets],
        "resultsLimit": max_reviews,
    }


def facebook_reviews_url(page_url: str) -> str:
    """The reviews tab of a page; profile.php pages carry their id in the query string."""
    if "?" in page_url:
        return f"{page_url}&sk=reviews"
    return f"{page_url}/reviews"


def facebook_item_key(item: dict) -> str | None:
    for field in ("facebookUrl", "pageUrl", "inputUrl"):
        if item.get(field):
            try:
                return normalise_facebook(str(item[field])).key
            except IdentifierError:
                return None
    return None


# --- TripAdvisor -----------------------------------------------------------------------------

# tripadvisor.com, .de, .co.uk, .com.au, …; not a name under someone else's domain
# (tripadvisor.com.evl).
TRIPADVISOR_HOST_RE = re.compile(r"tripadvisor\.(?:com|co|(?:com?\.)?[a-z]{2})")
TRIPADVISOR_LOCATION_RE = re.compile(r"-d(\d+)(?=-|\.html$|$)")
TRIPADVISOR_LOCATION_MISSING = "Must be a TripAdvisor place URL with a location id (-d<digits>-)."


def normalise_tripadvisor(raw: str) -> Identity:
    _, path, _ = split_url(raw, "TripAdvisor", TRIPADVISOR_HOST_RE)
    path = re.sub(r"-or\d+(?=-)", "", path)
    match = TRIPADVISOR_LOCATION_RE.search(path)
    if not match:
        raise IdentifierError(TRIPADVISOR_LOCATION_MISSING)
    return Identity(external_id=f"https://www.tripadvisor.com{path}", key=match.group(1))


def build_tripadvisor_input(scrape_type: str, targets: Sequence[Target], max_reviews: int) -> dict:
    start_urls = [{"url": t.external_id} for t in targets]
    if scrape_type == ScrapeType.OVERVIEW:
        return {"startUrls": start_urls, "maxItemsPerQuery": 1, "includeReviews": False}
    # The per-place limit's name is unconfirmed (APIFY.md §4.3): send both spellings.
    return {
        "startUrls": start_urls,
        "maxItemsPerQuery": max_reviews,
        "maxItems": max_reviews * len(targets),
        "reviewRatings": ["ALL_REVIEW_RATINGS"],
        "reviewsLanguages": ["ALL_REVIEW_LANGUAGES"],
    }


def tripadvisor_item_key(item: dict) -> str | None:
    location = item.get("locationId") or (item.get("placeInfo") or {}).get("id")
    return str(location) if location else None


# --- Booking ---------------------------------------------------------------------------------

BOOKING_HOST_RE = re.compile(r"booking\.com")
BOOKING_HOTEL_RE = re.compile(
    r"/hotel/([a-z]{2})/([a-z0-9][a-z0-9_-]*?)(?:\.[a-z]{2}(?:-[a-z]{2})?)?\.html"
)
BOOKING_HOTEL_MISSING = (
    "Must be a Booking hotel URL like https://www.booking.com/hotel/fr/name.html."
)


def normalise_booking(raw: str) -> Identity:
    _, path, _ = split_url(raw, "Booking", BOOKING_HOST_RE)
    match = BOOKING_HOTEL_RE.fullmatch(path.lower())
    if not match:
        raise IdentifierError(BOOKING_HOTEL_MISSING)
    country, slug = match.groups()
    return Identity(
        external_id=f"https://www.booking.com/hotel/{country}/{slug}.html", key=f"{country}/{slug}"
    )


def build_booking_input(scrape_type: str, targets: Sequence[Target], max_reviews: int) -> dict:
    # `userData` is echoed back as `customData` on every item: the reliable attribution key.
    start_urls = [
        {"url": t.external_id, "userData": {"businessId": t.business_id, "key": t.key}}
        for t in targets
    ]
    if scrape_type == ScrapeType.OVERVIEW:
        return {"startUrls": start_urls, "maxItems": len(targets)}
    return {
        "startUrls": start_urls,
        "maxReviewsPerHotel": max_reviews,
        "sortReviewsBy": "f_recent_desc",
    }


def booking_item_key(item: dict) -> str | None:
    custom = item.get("customData") or {}
    if custom.get("key"):
        return str(custom["key"])
    for field in ("hotelUrl", "url"):
        if item.get(field):
            try:
                return normalise_booking(str(item[field])).key
            except IdentifierError:
                continue
    return None


# --- The registry ----------------------------------------------------------------------------

PLATFORMS: dict[str, Platform] = {
    p.name: p
    for p in (
        Platform(
            name="google",
            label="Google Maps",
            default_actor_ids={
                ScrapeType.REVIEWS: "compass/google-maps-reviews-scraper",
                ScrapeType.OVERVIEW: "compass/crawler-google-places",
            },
            default_capacity=200,
            normalise=normalise_google,
            build_input=build_google_input,
            item_key=google_item_key,
            item_id_fields=("reviewId",),
            published_at_fields=("publishedAtDate",),
            newer_than_field="reviewsStartDate",  # APIFY.md §4.1
        ),
        Platform(
            name="facebook",
            label="Facebook",
            default_actor_ids={
                ScrapeType.REVIEWS: "apify/facebook-reviews-scraper",
                ScrapeType.OVERVIEW: "apify/facebook-pages-scraper",
            },
            default_capacity=100,
            normalise=normalise_facebook,
            build_input=build_facebook_input,
            item_key=facebook_item_key,
            published_at_fields=("date",),
            newer_than_field=None,  # APIFY.md §4.2 documents no date bound for this actor
        ),
        Platform(
            name="tripadvisor",
            label="TripAdvisor",
            default_actor_ids={
                ScrapeType.REVIEWS: "maxcopell/tripadvisor-reviews",
                ScrapeType.OVERVIEW: "maxcopell/tripadvisor",
            },
            default_capacity=100,
            normalise=normalise_tripadvisor,
            build_input=build_tripadvisor_input,
            item_key=tripadvisor_item_key,
            published_at_fields=("publishedDate",),
            newer_than_field="lastReviewDate",  # APIFY.md §4.3
        ),
        Platform(
            name="booking",
            label="Booking.com",
            default_actor_ids={
                ScrapeType.REVIEWS: "voyager/booking-reviews-scraper",
                ScrapeType.OVERVIEW: "voyager/booking-scraper",
            },
            default_capacity=100,
            normalise=normalise_booking,
            build_input=build_booking_input,
            item_key=booking_item_key,
            published_at_fields=("reviewDate",),
            newer_than_field="cutoffDate",  # APIFY.md §4.4; a lower bound with newest first
        ),
    )
}

PLATFORM_CHOICES = [(p.name, p.label) for p in PLATFORMS.values()]
PLATFORM_UNKNOWN = "Unknown platform {value!r}; expected one of: {choices}."


def get_platform(name: str) -> Platform:
    """The registry entry, or IdentifierError naming the accepted platforms."""
    try:
        return PLATFORMS[name]
    except KeyError:
        raise IdentifierError(
            PLATFORM_UNKNOWN.format(value=name, choices=", ".join(PLATFORMS))
        ) from None
