"""Storing a run's items, page by page: attribute each page to THAT execution's snapshot,
stage its review rows and keep its unmatched items aside, then upsert the staged rows once.

One page is in memory at a time (the dataset comes spooled on disk, `apify.DatasetSpool`), so
a run of a million items costs a worker what a run of one page does. Duplicates across pages
are settled by the database: the staged rows are counted distinct and the upsert is unique per
(business, platform item id), so a re-ingest or a repeated item adds nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from businesses.models import ReviewItem
from businesses.platforms import Platform, get_platform
from scheduler_project.jsonb import json_text, jsonb_safe
from schedules.attribution import Attribution, attribute_items
from schedules.models import Execution, UnmatchedItem


@dataclass
class StoredItems:
    """What a run's items came to: counts for the execution, and per business."""

    items: int = 0
    attributed: int = 0
    unmatched: int = 0
    errors: dict[int, str] = field(default_factory=dict)  # business → its error item's text
    with_items: set[int] = field(default_factory=set)
    new_items: dict[int, int] = field(default_factory=dict)  # business → review rows added


def run_items_store(
    *, execution: Execution, pages: Iterable[list[Any]], alive: set[int]
) -> StoredItems:
    """Attribute and store every page; review rows only for businesses still `alive`."""
    platform = get_platform(execution.platform)
    stored = StoredItems()
    postgres = connection.vendor == "postgresql"
    staging = (_PostgresStaging if postgres else _OrmStaging)(execution, platform, alive)
    for page in pages:
        attribution = attribute_items(
            platform=platform, snapshot=execution.business_snapshot, items=page
        )
        stored.items += len(page)
        stored.unmatched += len(attribution.unmatched)
        stored.errors.update(attribution.errors)
        stored.with_items |= attribution.with_items
        staging.add(attribution.matched)
        _store_unmatched(execution, attribution)
    stored.attributed, stored.new_items = staging.finish()
    return stored


def _store_unmatched(execution: Execution, attribution: Attribution) -> None:
    UnmatchedItem.objects.bulk_create(
        [
            UnmatchedItem(
                execution=execution,
                reason=reason,
                key=key[:500],
                payload=jsonb_safe(item if isinstance(item, dict) else {"value": item}),
            )
            for reason, key, item in attribution.unmatched
        ],
        batch_size=2000,
    )


class _PostgresStaging:
    """COPY into a temporary table, then one INSERT … ON CONFLICT: COPY streams rows without
    building SQL literals (quoting 100,000 JSON documents as parameters cost more than the
    rest of an ingest, bench/ingest.py)."""

    def __init__(self, execution: Execution, platform: Platform, alive: set[int]) -> None:
        self.execution, self.platform, self.alive = execution, platform, alive
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE IF NOT EXISTS review_import (business_id bigint, "
                "platform_item_id text, payload jsonb, published_at timestamptz) "
                "ON COMMIT DELETE ROWS"
            )
            cursor.execute("TRUNCATE review_import")

    def add(self, matched: list[tuple[int, str, dict]]) -> None:
        columns = "business_id, platform_item_id, payload, published_at"
        with (
            connection.cursor() as cursor,
            cursor.copy(f"COPY review_import ({columns}) FROM STDIN") as copy,
        ):
            for business_id, item_id, item in matched:
                published = self.platform.item_published_at(item)
                copy.write_row((business_id, item_id, json_text(item), published))

    def finish(self) -> tuple[int, dict[int, int]]:
        """(distinct items attributed, new review rows per business)."""
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM (SELECT DISTINCT business_id, platform_item_id "
                "FROM review_import) AS distinct_items"
            )
            (attributed,) = cursor.fetchone()
            cursor.execute(
                f"""
                WITH inserted AS (
                    INSERT INTO {ReviewItem._meta.db_table}
                        (business_id, execution_id, platform_item_id, payload, published_at,
                         scraped_at)
                    SELECT business_id, %s, platform_item_id, payload, published_at,
                           statement_timestamp()
                    FROM review_import
                    WHERE business_id = ANY(%s)
                    ON CONFLICT (business_id, platform_item_id) DO NOTHING
                    RETURNING business_id
                )
                SELECT business_id, count(*) FROM inserted GROUP BY business_id
                """,
                [self.execution.id, sorted(self.alive)],
            )
            return attributed, dict(cursor.fetchall())


class _OrmStaging:
    """The embedded SQLite default of a first run: the ORM, page by page."""

    def __init__(self, execution: Execution, platform: Platform, alive: set[int]) -> None:
        self.execution, self.platform, self.alive = execution, platform, alive
        self.seen: set[tuple[int, str]] = set()
        self.new_items: Counter[int] = Counter()

    def add(self, matched: list[tuple[int, str, dict]]) -> None:
        fresh = [(b, i, item) for b, i, item in matched if (b, i) not in self.seen]
        self.seen.update((b, i) for b, i, _item in fresh)
        created = ReviewItem.objects.bulk_create(
            [
                ReviewItem(
                    business_id=b,
                    execution=self.execution,
                    platform_item_id=i,
                    payload=jsonb_safe(item),
                    published_at=self.platform.item_published_at(item),
                )
                for b, i, item in fresh
                if b in self.alive
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        self.new_items.update(item.business_id for item in created)

    def finish(self) -> tuple[int, dict[int, int]]:
        return len(self.seen), dict(self.new_items)
