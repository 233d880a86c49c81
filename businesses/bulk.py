"""The writes of bulk registration (the import path): new businesses in one set-based
statement per chunk, and the registered ones that lack a mapping.

On PostgreSQL the rows go by COPY into a temporary table, then one INSERT … SELECT … ON
CONFLICT that also returns the businesses already there: building an INSERT's parameters
and one model instance per row cost most of an import chunk (bench/assign.py). The
embedded SQLite default takes the portable ORM path.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Func, IntegerField

from businesses.models import Business

Key = tuple[str, str, str]  # (team_id, platform, platform_key): unique per business
Prepared = dict[Key, tuple[str, str]]  # key → (normalised external_id, name)


class Registered(NamedTuple):
    """A business inserted now: what placing it in its batches reads."""

    id: int
    team_id: str
    platform: str
    platform_key: str
    scrape_types: list[str]
    active: bool = True


def businesses_insert(
    prepared: Prepared, scrape_types: Sequence[str]
) -> tuple[list[int], list[Registered]]:
    """Insert the businesses not registered yet: (ids of those already there, new ones)."""
    if not prepared:
        return [], []
    if connection.vendor != "postgresql":
        return _insert_orm(prepared, list(scrape_types))
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE IF NOT EXISTS business_import (team_id text, platform text, "
            "external_id text, platform_key text, name text) ON COMMIT DELETE ROWS"
        )
        cursor.execute("TRUNCATE business_import")
        columns = "team_id, platform, platform_key, external_id, name"
        with cursor.copy(f"COPY business_import ({columns}) FROM STDIN") as copy:
            for key, (external_id, name) in prepared.items():
                copy.write_row((*key, external_id, name))
        cursor.execute(_INSERT, [json.dumps(list(scrape_types))])
        rows = cursor.fetchall()
        created = [Registered(i, t, p, k, list(scrape_types)) for new, i, t, p, k in rows if new]
        existing = [i for new, i, _, _, _ in rows if not new]
        if len(existing) + len(created) < len(prepared):
            # A concurrent import committed some of the same businesses while the INSERT
            # waited on them: its snapshot missed them, this statement's sees them.
            cursor.execute(_REGISTERED)
            fresh = {b.id for b in created}
            existing = [i for (i,) in cursor.fetchall() if i not in fresh]
    return existing, created


_REGISTERED = f"""
    SELECT b.id FROM {Business._meta.db_table} b
    JOIN business_import i USING (team_id, platform, platform_key)
"""
# The CTE's INSERT and the SELECT below it share one snapshot: the SELECT sees only the
# businesses that were there before, the RETURNING only the new ones.
_INSERT = f"""
    WITH inserted AS (
        INSERT INTO {Business._meta.db_table}
            (team_id, platform, external_id, platform_key, name, scrape_types, active,
             last_error, created_at, updated_at)
        SELECT team_id, platform, external_id, platform_key, name, %s::jsonb, true, '',
               statement_timestamp(), statement_timestamp()
        FROM business_import
        ON CONFLICT (team_id, platform, platform_key) DO NOTHING
        RETURNING id, team_id, platform, platform_key
    )
    SELECT true, id, team_id, platform, platform_key FROM inserted
    UNION ALL
    SELECT false, b.id, b.team_id, b.platform, b.platform_key FROM {Business._meta.db_table} b
    JOIN business_import i USING (team_id, platform, platform_key)
"""


def _insert_orm(prepared: Prepared, scrape_types: list[str]) -> tuple[list[int], list[Registered]]:
    """The portable path: one read of what is there, one bulk insert of the rest."""

    def insert() -> tuple[list[int], list[Business]]:
        candidates = Business.objects.filter(
            team_id__in={k[0] for k in prepared}, platform_key__in={k[2] for k in prepared}
        ).values_list("id", "team_id", "platform", "platform_key")
        known = {(t, p, k): i for i, t, p, k in candidates if (t, p, k) in prepared}
        new = [
            Business(
                team_id=key[0],
                platform=key[1],
                platform_key=key[2],
                external_id=external_id,
                name=name,
                scrape_types=scrape_types,
            )
            for key, (external_id, name) in prepared.items()
            if key not in known
        ]
        return list(known.values()), Business.objects.bulk_create(new, batch_size=2000)

    try:
        with transaction.atomic():
            existing, new = insert()
    except IntegrityError:
        # A concurrent import inserted some of the same businesses: look again, once.
        existing, new = insert()
    return existing, [
        Registered(b.id, b.team_id, b.platform, b.platform_key, b.scrape_types) for b in new
    ]


class _ArrayLength(Func):
    """The length of a JSON array column, on PostgreSQL (jsonb) and SQLite (JSON1)."""

    function = "jsonb_array_length"
    output_field = IntegerField()

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, list]:
        return self.as_sql(compiler, connection, function="json_array_length", **extra)


def lacking_mappings(ids: list[int]) -> list[Business]:
    """The active ones of these businesses that lack a mapping per scrape type: one
    aggregate query that compares in the database, and model instances only for those (a
    re-run of an import repairs just them, without decoding every business's types)."""
    lacking = (
        Business.objects.filter(id__in=ids, active=True)
        .annotate(mapped=Count("mappings"), wanted=_ArrayLength("scrape_types"))
        .filter(mapped__lt=F("wanted"))
        .values_list("id", flat=True)
    )
    found = list(lacking) if ids else []
    return list(Business.objects.filter(id__in=found).order_by("id")) if found else []
