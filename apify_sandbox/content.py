"""Deterministic make-believe: business profiles, reviewers, review texts and ids.

Everything here is a pure function of (seed, platform, business key[, review index]), never of
the batch a business happens to be in. So a business re-scraped in another batch, or alone in a
retry run, gets the same name, rating and review ids: what the product's dedupe relies on.
`random.Random` seeded with a str hashes it with SHA-512, so this is stable across processes and
PYTHONHASHSEED."""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

# Reviews are dated back from this fixed day, so items do not change with the wall clock.
ANCHOR = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)

_ADJECTIVES = ["Golden", "Blue", "Old", "Little", "Green", "Royal", "Silver", "Corner", "Sunny"]
_NOUNS = ["Fork", "Harbour", "Oak", "Lantern", "Garden", "Anchor", "Olive", "Bridge", "Mill"]
_KINDS = {
    "google": ["Bistro", "Café", "Bakery", "Dental Clinic", "Barbershop", "Pizzeria"],
    "facebook": ["Studio", "Coffee House", "Fitness", "Bookshop", "Bar"],
    "tripadvisor": ["Restaurant", "Trattoria", "Brasserie", "Guesthouse", "Tavern"],
    "booking": ["Hotel", "Inn", "Suites", "Boutique Hotel", "Apartments"],
}
_CITIES = ["Lisbon", "Prague", "Lyon", "Porto", "Ghent", "Bologna", "Seville", "Kraków"]
_FIRST = ["Anna", "Tom", "Lucía", "Marek", "Sophie", "Jonas", "Aisha", "Pedro", "Mia", "Ravi"]
_LAST = ["Novak", "Smith", "García", "Dubois", "Rossi", "Jensen", "Kowalski", "Silva", "Ito"]
_PRAISE = [
    "Friendly staff and quick service.",
    "Great value for money, we will be back.",
    "Lovely atmosphere, spotless and cosy.",
    "Everything was exactly as described.",
    "The best in the neighbourhood, hands down.",
]
_MIXED = [
    "Good overall, but we waited a while.",
    "Nice place, a bit noisy in the evening.",
    "Decent, though prices went up recently.",
]
_COMPLAINTS = [
    "Disappointing: cold food and a long wait.",
    "Staff were rude and nobody apologised.",
    "Not clean, would not recommend.",
]
_TITLES = {5: "Wonderful", 4: "Very good", 3: "Okay", 2: "Disappointing", 1: "Avoid"}


@dataclass(frozen=True)
class Profile:
    """What a platform shows about one business."""

    name: str
    city: str
    category: str
    rating: float  # 1.0-5.0, one decimal
    review_count: int


@dataclass(frozen=True)
class Review:
    """One review, before it is shaped into a platform's item."""

    index: int
    stars: int  # 1-5
    score10: float  # the same opinion on Booking's 1-10 scale
    likes: int
    text: str
    title: str
    author: str
    author_id: str
    published: datetime
    liked: str
    disliked: str
    owner_reply: str | None


def rng(*parts: object) -> random.Random:
    """A generator seeded by the parts (stable across processes)."""
    return random.Random("|".join(str(p) for p in parts))


def stable_id(*parts: object, length: int = 17, alphabet: str | None = None) -> str:
    """A fixed-length id derived from the parts: the same inputs always give the same id."""
    chars = alphabet or string.ascii_letters + string.digits
    number = int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest(), "big")
    out = []
    for _ in range(length):
        number, index = divmod(number, len(chars))
        out.append(chars[index])
    return "".join(out)


def stable_number(*parts: object, digits: int = 9) -> int:
    """A number of exactly `digits` digits derived from the parts."""
    return int("1" + stable_id(*parts, length=digits - 1, alphabet=string.digits))


def profile(seed: int, platform: str, key: str) -> Profile:
    r = rng(seed, platform, key, "profile")
    kind = r.choice(_KINDS.get(platform, _KINDS["google"]))
    return Profile(
        name=f"{r.choice(_ADJECTIVES)} {r.choice(_NOUNS)} {kind}",
        city=r.choice(_CITIES),
        category=kind,
        rating=round(r.uniform(3.2, 4.9), 1),
        review_count=r.randint(40, 2400),
    )


def review_count(seed: int, platform: str, key: str, cap: int) -> int:
    """How many reviews a scrape of this business yields: 0..cap, stable for a given cap."""
    return rng(seed, platform, key, "count", cap).randint(0, max(cap, 0))


def review(seed: int, platform: str, key: str, index: int, base: Profile) -> Review:
    """Review number `index` (0 = newest) of a business; stable whatever else was scraped."""
    r = rng(seed, platform, key, "review", index)
    stars = max(1, min(5, round(r.gauss(base.rating, 1.0))))
    pool = _PRAISE if stars >= 4 else _MIXED if stars == 3 else _COMPLAINTS
    first, last = r.choice(_FIRST), r.choice(_LAST)
    published = ANCHOR - timedelta(days=index * 3 + r.uniform(0, 3))
    reply = "Thank you for your feedback!" if r.random() < 0.3 else None
    return Review(
        index=index,
        stars=stars,
        score10=round(max(1.0, stars * 2 - r.uniform(0, 1.5)), 1),
        likes=int(r.expovariate(0.5)),
        text=" ".join(r.sample(pool, k=min(2, len(pool)))),
        title=_TITLES[stars],
        author=f"{first} {last}",
        author_id=stable_id(
            seed, platform, key, index, "author", length=21, alphabet=string.digits
        ),
        published=published.replace(microsecond=0),
        liked=r.choice(_PRAISE),
        disliked=r.choice(_MIXED + _COMPLAINTS) if stars < 5 else "Nothing at all.",
        owner_reply=reply,
    )
