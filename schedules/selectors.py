"""Reads for the operators' API: batches (schedules), their businesses and executions.

Every list is one queryset whose rows carry what the serializer needs (select_related), so a
page costs the same number of queries whatever its size.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from contextlib import suppress
from datetime import datetime
from uuid import UUID

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery, Sum

from businesses.models import Business, ScrapeOutcome, Team
from businesses.selectors import team_effective_intervals, team_get
from schedules.models import Batch, BatchStatus, Execution, Mapping, ScheduleGroup
from schedules.policies import first_slot_at_or_after, upcoming_slots

NEXT_RUNS = 10
LAST_EXECUTIONS = 5

# Execution columns the lists show: the snapshot (up to a batch's capacity of businesses)
# stays in the database.
_LIST_DEFERRED = ("business_snapshot",)


def batch_list(*, filters: dict | None = None) -> QuerySet[Batch]:
    """Batches with their group, filtered by platform, scrape_type, interval (minutes), status."""
    filters = filters or {}
    queryset = Batch.objects.select_related("group")
    if filters.get("platform"):
        queryset = queryset.filter(group__platform=filters["platform"])
    if filters.get("scrape_type"):
        queryset = queryset.filter(group__scrape_type=filters["scrape_type"])
    if filters.get("interval"):
        queryset = queryset.filter(group__interval_minutes=filters["interval"])
    if filters.get("status"):
        queryset = queryset.filter(status=filters["status"])
    return queryset.order_by(
        "group__platform", "group__scrape_type", "group__interval_minutes", "batch_index", "id"
    )


def batch_get(*, batch_id: int) -> Batch:
    """One batch with its group; DoesNotExist (a 404) otherwise."""
    return batch_list().get(id=batch_id)


def batch_detail_get(*, batch_id: int, now: datetime) -> Batch:
    """A batch with `next_runs`, `last_executions` and `execution_counts` attached."""
    batch = batch_get(batch_id=batch_id)
    batch.next_runs = batch_next_runs(batch=batch, now=now)
    batch.last_executions = batch_last_executions(batch=batch)
    batch.execution_counts = batch_execution_counts(batch=batch)
    return batch


def batch_next_runs(*, batch: Batch, now: datetime, count: int = NEXT_RUNS) -> list[datetime]:
    """The batch's next `count` run times on its grid. A retired batch has none; a paused one
    shows where it would resume (its next slot, or the first slot from now if that is later)."""
    if batch.status == BatchStatus.RETIRED:
        return []
    grid = batch.grid()
    start = max(batch.next_run_at, first_slot_at_or_after(grid, now))
    return upcoming_slots(grid, start, count)


def batch_last_executions(*, batch: Batch, count: int = LAST_EXECUTIONS) -> list[Execution]:
    return list(execution_list(filters={"schedule_id": batch.id})[:count])


def batch_execution_counts(*, batch: Batch) -> dict[str, int]:
    """state → number of executions of the batch, in one aggregate query."""
    rows = Execution.objects.filter(batch=batch).values("state").annotate(n=Count("id"))
    return {row["state"]: row["n"] for row in rows.order_by("state")}


def batch_mappings(*, batch: Batch) -> QuerySet[Mapping]:
    """The businesses of a batch (one mapping each), with the business row joined and the
    last scrape of THIS scrape type annotated (`type_status`, `type_scraped_at`,
    `type_error`)."""
    outcome = ScrapeOutcome.objects.filter(
        business_id=OuterRef("business_id"), scrape_type=OuterRef("scrape_type")
    )
    return (
        Mapping.objects.filter(batch=batch)
        .select_related("business")
        .annotate(
            type_status=Subquery(outcome.values("last_status")[:1]),
            type_scraped_at=Subquery(outcome.values("last_scraped_at")[:1]),
            type_error=Subquery(outcome.values("last_error")[:1]),
        )
        .order_by("id")
    )


def execution_list(*, filters: dict | None = None) -> QuerySet[Execution]:
    """Executions, newest first, filtered by state, trigger, platform, scrape_type and
    schedule_id."""
    filters = filters or {}
    queryset = Execution.objects.defer(*_LIST_DEFERRED)
    for field in ("state", "trigger", "platform", "scrape_type"):
        if filters.get(field):
            queryset = queryset.filter(**{field: filters[field]})
    if filters.get("schedule_id"):
        queryset = queryset.filter(batch_id=filters["schedule_id"])
    return queryset.order_by("-created_at", "-id")


def execution_detail_get(*, execution_id: UUID) -> Execution:
    """An execution with its per-business `outcomes` attached; DoesNotExist otherwise."""
    execution = Execution.objects.get(id=execution_id)
    execution.outcomes = execution_outcomes(execution=execution)
    return execution


def execution_outcomes(*, execution: Execution) -> list[dict]:
    """Per snapshot business: who it is now, its last outcome and the reviews THIS execution
    stored for it. One query whatever the snapshot size; a business deleted since the run
    keeps its snapshot ids with empty details."""
    snapshot = execution.business_snapshot or []
    ids = [row["business_id"] for row in snapshot]
    outcome = ScrapeOutcome.objects.filter(
        business_id=OuterRef("pk"), scrape_type=execution.scrape_type
    )
    found = {
        b.id: b
        for b in Business.objects.filter(id__in=ids)
        .annotate(
            reviews_stored=Count("reviews", filter=Q(reviews__execution=execution)),
            type_status=Subquery(outcome.values("last_status")[:1]),
            type_error=Subquery(outcome.values("last_error")[:1]),
        )
        .only("id", "team_id", "name", "last_status", "last_error")
    }
    outcomes = []
    for row in snapshot:
        business = found.get(row["business_id"])
        outcomes.append(
            {
                "business_id": row["business_id"],
                "team_id": row.get("team_id"),
                "external_id": row.get("external_id", ""),
                "exists": business is not None,
                "name": business.name if business else None,
                "last_status": business.last_status if business else None,
                "last_error": business.last_error if business else "",
                "scrape_type_status": business.type_status if business else None,
                "scrape_type_error": (business.type_error or "") if business else "",
                "reviews_stored": business.reviews_stored if business else 0,
            }
        )
    return outcomes


def team_mappings(*, team: Team) -> QuerySet[Mapping]:
    """A team's assignments (business × scrape type) with business, batch and group joined."""
    return (
        Mapping.objects.filter(team=team)
        .select_related("business", "batch__group")
        .order_by("business_id", "scrape_type")
    )


def team_schedules_get(*, team_id: str) -> Team:
    """A team with `assignments` (its mappings, batch and group joined), `custom_interval_rows`
    and `effective_intervals` attached: four queries whatever the team's size."""
    team = team_get(team_id=team_id)
    team.assignments = list(team_mappings(team=team))
    team.custom_interval_rows = list(team.custom_intervals.order_by("platform"))
    team.effective_intervals = team_effective_intervals(team)
    return team


def group_utilisation() -> list[dict]:
    """Per global schedule: active batches, businesses, room and utilisation (one query)."""
    # Batches that run: an emptied batch waits for its next business, undispatched.
    active = Q(batches__status=BatchStatus.ACTIVE, batches__business_count__gt=0)
    rows = (
        ScheduleGroup.objects.annotate(
            active_batches=Count("batches", filter=active),
            used=Sum("batches__business_count", filter=active),
            room=Sum("batches__capacity", filter=active),
        )
        .filter(active_batches__gt=0)
        .order_by("platform", "scrape_type", "interval_minutes")
        .values(
            "id", "platform", "scrape_type", "interval_minutes", "active_batches", "used", "room"
        )
    )
    return [{**r, "percent": round(100 * (r["used"] or 0) / r["room"], 1)} for r in rows]


def businesses_with_assignments(businesses: Iterable[Business]) -> list[Business]:
    """Attach `assignments` (scrape type, batch, interval) and `outcomes` (last scrape per
    scrape type) to each business (see `_assignments_and_outcomes`)."""
    businesses = list(businesses)
    found = _assignments_and_outcomes({b.id: b.scrape_types for b in businesses})
    for business in businesses:
        business.assignments, business.outcomes = found[business.id]
    return businesses


def business_rows_with_assignments(rows: Iterable[dict]) -> list[dict]:
    """The same for plain rows (`.values()` of Business with `id` and `scrape_types`): the
    product list serves them without building a model instance or a serializer per row,
    which cost more than its queries (bench/api_load.py)."""
    rows = list(rows)
    found = _assignments_and_outcomes({row["id"]: row["scrape_types"] for row in rows})
    for row in rows:
        row["assignments"], row["outcomes"] = found[row["id"]]
    return rows


def _assignments_and_outcomes(
    scrape_types: dict[int, list[str]],
) -> dict[int, tuple[list[dict], list[dict]]]:
    """Per business id: its assignments and its outcome per scrape type (a type never
    scraped yet included), with one query of plain values each whatever the page size:
    building model instances for a page of mappings cost more than the rest of the request
    (bench/api_load.py)."""
    ids = list(scrape_types)
    rows = (
        Mapping.objects.filter(business_id__in=ids)
        .order_by("scrape_type")
        .values_list("business_id", "scrape_type", "batch_id", "batch__group__interval_minutes")
    )
    by_business: dict[int, list[dict]] = defaultdict(list)
    for business_id, scrape_type, batch_id, interval in rows:
        by_business[business_id].append(
            {"scrape_type": scrape_type, "schedule_id": batch_id, "interval_minutes": interval}
        )
    outcomes: dict[int, dict[str, dict]] = defaultdict(dict)
    for row in ScrapeOutcome.objects.filter(business_id__in=ids).values(
        "business_id", "scrape_type", "last_status", "last_scraped_at", "last_error"
    ):
        outcomes[row.pop("business_id")][row["scrape_type"]] = row
    return {
        business_id: (
            by_business.get(business_id, []),
            [
                outcomes[business_id].get(scrape_type, _never_scraped(scrape_type))
                for scrape_type in sorted({*types, *outcomes[business_id]})
            ],
        )
        for business_id, types in scrape_types.items()
    }


def _never_scraped(scrape_type: str) -> dict:
    return {
        "scrape_type": scrape_type,
        "last_status": None,
        "last_scraped_at": None,
        "last_error": "",
    }


def execution_lookup(*, q: str, limit: int) -> list[Execution]:
    """Executions that `q` names exactly, for the dashboard's search: their id (a UUID, the
    primary key) or their Apify run id (its unique index). One query, or none when `q` can
    be neither; never a scan of the (large) executions table."""
    q = q.strip()
    match = Q()
    if q and "\x00" not in q and len(q) <= Execution._meta.get_field("apify_run_id").max_length:
        match |= Q(apify_run_id=q)
    with suppress(ValueError):  # not a UUID: no id to match
        match |= Q(id=UUID(q))
    if not match:
        return []
    queryset = Execution.objects.defer(*_LIST_DEFERRED).filter(match)
    return list(queryset.order_by("-created_at", "-id")[:limit])
