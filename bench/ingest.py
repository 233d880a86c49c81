"""Ingest throughput: one finished Apify run of N Google review items over B snapshot businesses,
downloaded through the real apify-client from the strict fake Apify in a process of its own,
attributed and upserted; beside it, the ceiling: a raw `COPY` of the same rows into the same
table, measured in the same run (goal: end to end >= 40 % of it).

    python bench/ingest.py --items 100000 --businesses 500
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from _common import (
    Row,
    configure,
    copy_seconds,
    fmt,
    print_table,
    rate,
    recreate_database,
    sql,
    timed,
    truncate,
    verdict,
)

TARGET_PER_S = 20_000
_RUNS = itertools.count()
CEILING_SHARE = 0.40  # end to end, of a raw COPY of the same rows (issue 18)
TOKEN = "bench-token"
TEAMS = 25
WORDS = ("great", "friendly", "staff", "quick", "service", "clean", "tasty", "food", "slow")
WORDS += ("waiting", "nice", "view", "parking", "hard", "prices", "fair", "recommend", "coffee")


def place_id(n: int) -> str:
    return f"ChIJbench{n:011d}_pl"


def register(businesses: int) -> list[dict]:
    """Teams and Google businesses through the services; the snapshot of all of them."""
    from businesses.models import Business, Tier
    from businesses.services import BusinessRow, businesses_bulk_register, team_upsert

    tiers = list(Tier.values)
    for t in range(TEAMS):
        team_upsert(team_id=f"bench-team-{t}", tier=tiers[t % len(tiers)])
    rows = [
        BusinessRow(f"bench-team-{n % TEAMS}", "google", place_id(n)) for n in range(businesses)
    ]
    for start in range(0, len(rows), 100):
        businesses_bulk_register(rows=rows[start : start + 100], scrape_types=["reviews"])
    found = Business.objects.filter(platform="google").order_by("id")
    return [
        {"business_id": b, "team_id": t, "external_id": e, "key": k}
        for b, t, e, k in found.values_list("id", "team_id", "external_id", "platform_key")
    ]


def review_items(tag: str, count: int, snapshot: list[dict], seed: int = 7) -> list[dict]:
    """Plausible compass/google-maps-reviews-scraper items; 1 % carry a key outside the snapshot."""
    rnd = random.Random(seed)
    keys = [s["key"] for s in snapshot]
    index = {k: i for i, k in enumerate(keys)}
    base = datetime(2026, 1, 1, tzinfo=UTC)
    items = []
    for n in range(count):
        key = place_id(10**9 + n) if n % 100 == 99 else keys[n % len(keys)]
        published = base - timedelta(minutes=rnd.randrange(500_000))
        review_id = f"Ci9DQUlRQUNvZENodHljRjlv{tag}{n:010d}"
        items.append(
            {
                "reviewId": review_id,
                "placeId": key,
                "title": f"Bench place {index.get(key, -1)}",
                "url": f"https://www.google.com/maps/place/?q=place_id:{key}",
                "reviewUrl": f"https://www.google.com/maps/reviews/data=!4m8!14m7!1m6!2m5!1s{review_id}",
                "reviewerId": str(10**20 + rnd.randrange(10**12)),
                "name": f"Reviewer {rnd.randrange(10**6)}",
                "reviewerNumberOfReviews": rnd.randrange(1, 400),
                "isLocalGuide": rnd.random() < 0.2,
                "text": " ".join(rnd.choices(WORDS, k=rnd.randrange(5, 60))).capitalize() + ".",
                "stars": rnd.randrange(1, 6),
                "likesCount": rnd.randrange(5),
                "publishAt": "a month ago",
                "publishedAtDate": published.isoformat(timespec="milliseconds")[:-6] + "Z",
                "originalLanguage": "en",
                "reviewOrigin": "Google",
                "responseFromOwnerText": None,
                "reviewImageUrls": [],
            }
        )
    return items


def finished_run(fake: Any, snapshot: list[dict], tag: str, count: int) -> str:
    """A run started through the real client (as the start task does), finished with
    `count` items of `tag` that the fake's own process builds."""
    from businesses.platforms import Target, get_platform
    from schedules import apify

    platform = get_platform("google")
    targets = [Target(s["business_id"], s["external_id"], s["key"]) for s in snapshot]
    run = apify.actor_run_start(
        actor_id=platform.actor_id("reviews"),
        run_input=platform.batch_input("reviews", targets),
        idempotency_key=f"bench-{tag}-{next(_RUNS)}",
        memory_mbytes=platform.run_memory_mbytes("reviews"),
    )
    assert fake.finish_run(run.run_id, tag, count, snapshot) == count
    return run.run_id


def running_execution(run_id: str, snapshot: list[dict]) -> UUID:
    from scheduler_project.dbclock import db_now
    from schedules.models import Execution

    now = db_now()
    return Execution.objects.create(
        platform="google",
        scrape_type="reviews",
        trigger="manual",
        state="running",
        scheduled_for=now,
        started_at=now,
        actor_id="compass/google-maps-reviews-scraper",
        apify_run_id=run_id,
        business_snapshot=snapshot,
        business_count=len(snapshot),
    ).id


def review_rows() -> int:
    return int(sql("SELECT count(*) FROM businesses_reviewitem")[0][0])


def speed(label: str, count: int, seconds: float, target: bool = False) -> Row:
    per_s = rate(count, seconds)
    goal = f">= {TARGET_PER_S:,}" if target else ""
    return (label, count, seconds, per_s, goal, verdict(per_s >= TARGET_PER_S) if target else "")


def check(label: str, value: object, expected: object, ok: bool | None = None) -> Row:
    return (label, value, expected, verdict(value == expected if ok is None else ok))


def measure(count: int, businesses: int, fake: Any) -> tuple[list[Row], list[Row]]:

    from businesses.platforms import get_platform
    from scheduler_project.jsonb import json_text
    from schedules import apify
    from schedules.attribution import attribute_items
    from schedules.services.ingest import _record, execution_ingest

    with timed() as t:
        snapshot = register(businesses)
    speeds = [("setup: teams + businesses (services)", len(snapshot), t.seconds, "", "", "")]
    run_a = finished_run(fake, snapshot, "A", count)
    run_b = finished_run(fake, snapshot, "B", count)
    platform, state_a = get_platform("google"), apify.actor_run_get(run_a)
    assert state_a is not None

    with timed() as t, apify.dataset_items(state_a.dataset_id) as spool:  # the download alone
        items = [item for page in spool.pages() for item in page]
    speeds.append(
        speed(f"download (apify-client, {apify.DATASET_PAGE_SIZE:,}/page)", len(items), t.seconds)
    )
    with timed() as t:
        matched = attribute_items(platform=platform, snapshot=snapshot, items=items).matched
    speeds.append(speed("attribute_items (pure)", count, t.seconds))
    with timed() as t:
        [json_text(item) for _, _, item in matched]
    speeds.append(speed("json_text of attributed items", len(matched), t.seconds))
    with timed() as t:
        [platform.item_published_at(item) for _, _, item in matched]
    speeds.append(speed("item_published_at of attributed", len(matched), t.seconds))

    write_id = running_execution(run_a, snapshot)
    with timed() as t:
        written = _record(write_id, run_a, state_a, [items])
    assert written is not None
    speeds.append(speed("_record alone (items in one page)", count, t.seconds, target=True))
    rows_write = review_rows()
    truncate("businesses_reviewitem")

    e2e_id = running_execution(run_b, snapshot)
    with timed() as t:
        result = execution_ingest(execution_id=e2e_id)
    assert result is not None
    speeds.append(speed("execution_ingest end to end", count, t.seconds, target=True))
    e2e_seconds = t.seconds
    rows_e2e = review_rows()
    with timed() as t_again:
        again = execution_ingest(execution_id=e2e_id)
    rows_again = review_rows()
    rerun_id = running_execution(finished_run(fake, snapshot, "B", count), snapshot)
    with timed() as t:
        rerun = execution_ingest(execution_id=rerun_id)
    assert rerun is not None
    speeds.append(speed("re-ingest same items, fresh execution", count, t.seconds))
    rows_rerun = review_rows()

    ceiling = copy_ceiling(write_id, platform, matched)
    speeds.append(speed("ceiling: raw COPY of the same rows", len(matched), ceiling))
    e2e_per_s, copy_per_s = count / e2e_seconds, len(matched) / ceiling
    speeds.append(
        (
            "end to end / COPY ceiling",
            "",
            "",
            f"{e2e_per_s / copy_per_s:.2f}",
            f">= {CEILING_SHARE:.2f}",
            verdict(e2e_per_s / copy_per_s >= CEILING_SHARE),
        )
    )

    unmatched = sql(
        "SELECT count(*) FROM schedules_unmatcheditem WHERE execution_id = %s", [e2e_id]
    )
    state = sql("SELECT state, attributed_count FROM schedules_execution WHERE id = %s", [e2e_id])
    in_snapshot = count - count // 100
    return speeds, [
        check("_record alone: rows inserted = attributed", rows_write, written.attributed),
        check("end to end: items downloaded", result.items, count),
        check("end to end: attributed", result.attributed, in_snapshot),
        check("end to end: rows in businesses_reviewitem", rows_e2e, result.attributed),
        check("end to end: unmatched rows stored", unmatched[0][0], count // 100),
        check("end to end: execution state", state[0][0], "succeeded"),
        check("end to end: execution attributed_count", state[0][1], result.attributed),
        check("end to end: businesses failed", result.failed, 0),
        check("2nd execution_ingest, same execution", fmt(again), "None"),
        check(f"  rows added ({t_again.seconds * 1000:.1f} ms)", rows_again - rows_e2e, 0),
        check("same items, fresh execution: attributed", rerun.attributed, result.attributed),
        check("  rows added", rows_rerun - rows_e2e, 0),
    ]


def copy_ceiling(execution_id: UUID, platform: Any, matched: list) -> float:
    """Seconds for PostgreSQL to take the attributed rows by a bare COPY into
    businesses_reviewitem (rows prepared beforehand, table emptied first): the bound for
    everything the ingest does."""
    from scheduler_project.jsonb import json_text

    now = datetime.now(UTC)
    rows = [
        (b, execution_id, i, json_text(item), platform.item_published_at(item), now)
        for b, i, item in matched
    ]
    truncate("businesses_reviewitem")
    columns = ("business_id", "execution_id", "platform_item_id", "payload", "published_at")
    seconds = copy_seconds([("businesses_reviewitem", (*columns, "scraped_at"), rows)])
    assert review_rows() == len(rows)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--businesses", type=int, default=500)
    args = parser.parse_args()

    configure()
    from _dataset_server import RemoteFakeApify

    with RemoteFakeApify(TOKEN, review_items) as fake:
        os.environ["APIFY_API_URL"] = fake.url
        os.environ["APIFY_TOKEN"] = TOKEN
        recreate_database()
        from django.conf import settings

        assert fake.url == settings.APIFY_API_URL
        speeds, checks = measure(args.items, args.businesses, fake)
        requests = fake.request_count()
    print_table(
        f"ingest: {args.items:,} Google review items over {args.businesses:,} snapshot businesses"
        f" (1 % outside the snapshot), FakeApify in its own process at 127.0.0.1, {requests} API"
        " requests in all",
        ("step", "items", "seconds", "items/s", "target", "verdict"),
        speeds,
    )
    print_table("ingest correctness", ("check", "value", "expected", "verdict"), checks)
    return 0 if all(r[-1] == "OK" for r in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
