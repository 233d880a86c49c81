"""Assignment: which batch serves each (business, scrape type).

Locking order, the same in every path so concurrent requests cannot deadlock:
businesses (by id) → schedule groups (by id) → batches. Every change of a
`business_count` happens while the batch's group row is locked, so two requests adding to
the same nearly-full batch are serialised and the CHECK (count ≤ capacity) never fires.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from django.db import transaction

from businesses.models import Business, Team
from businesses.platforms import PLATFORMS, ScrapeType
from businesses.selectors import effective_intervals
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, Mapping, ScheduleGroup
from schedules.services.placement import MappingRow, adjust_counts, insert_mappings, place

GroupKey = tuple[str, str, int]  # (platform, scrape_type, interval_minutes)


# --- groups ----------------------------------------------------------------------------------


def schedule_groups_init() -> int:
    """Create the standard groups (platform × scrape type × tier interval); idempotent.

    Returns how many were created.
    """
    intervals = sorted(set(conf.get().tier_intervals.values()))
    wanted = [
        ScheduleGroup(platform=p, scrape_type=st, interval_minutes=i, is_standard=True)
        for p, st, i in itertools.product(PLATFORMS, ScrapeType.values, intervals)
    ]
    before = ScheduleGroup.objects.count()
    ScheduleGroup.objects.bulk_create(wanted, ignore_conflicts=True)
    return ScheduleGroup.objects.count() - before


def _groups_for(keys: Iterable[GroupKey]) -> dict[GroupKey, ScheduleGroup]:
    """The interval groups for `keys`, creating custom-interval groups on demand."""
    keys = set(keys)
    if not keys:
        return {}
    ScheduleGroup.objects.bulk_create(
        [ScheduleGroup(platform=p, scrape_type=st, interval_minutes=i) for p, st, i in keys],
        ignore_conflicts=True,
    )
    found = ScheduleGroup.objects.filter(
        cron_expression="",
        interval_minutes__in={k[2] for k in keys},
        platform__in={k[0] for k in keys},
    )
    return {
        (g.platform, g.scrape_type, g.interval_minutes): g
        for g in found
        if (g.platform, g.scrape_type, g.interval_minutes) in keys
    }


def _lock_groups(group_ids: Iterable[int]) -> dict[int, ScheduleGroup]:
    ids = sorted(set(group_ids))
    return {
        g.id: g for g in ScheduleGroup.objects.select_for_update().filter(id__in=ids).order_by("id")
    }


# --- the one path that (re)computes assignments ---------------------------------------------


@dataclass
class SyncResult:
    created: int = 0
    moved: int = 0
    removed: int = 0
    kept: int = 0


@dataclass
class _Moves:
    kept: int = 0
    removed_from: Counter[int] = field(default_factory=Counter)  # batch id → -count
    to_delete: list[int] = field(default_factory=list)  # mapping ids
    to_place: dict[int, list[Mapping]] = field(default_factory=lambda: defaultdict(list))
    moved: list[Mapping] = field(default_factory=list)


def _plan_moves(
    current: dict[tuple[int, str], Mapping],
    wanted: dict[tuple[int, str], GroupKey],
    groups: dict[GroupKey, ScheduleGroup],
    by_id: dict[int, Business],
) -> _Moves:
    """Compare the mappings there are with the ones there should be: keep, move (to a
    group, batch chosen later), delete, or create each (business, scrape type)."""
    moves = _Moves()
    for key, mapping in current.items():
        target = groups.get(wanted.get(key, ("", "", 0)))
        if target and mapping.batch.group_id == target.id and mapping.batch.status != "retired":
            moves.kept += 1
            continue
        moves.removed_from[mapping.batch_id] -= 1
        if target:
            moves.to_place[target.id].append(mapping)
            moves.moved.append(mapping)
        else:
            moves.to_delete.append(mapping.pk)
    for key, group_key in wanted.items():
        if key not in current:
            business = by_id[key[0]]
            moves.to_place[groups[group_key].id].append(
                Mapping(
                    business=business,
                    scrape_type=key[1],
                    team_id=business.team_id,
                    platform_key=business.platform_key,
                )
            )
    return moves


class FreshBusiness(Protocol):
    """What placing a business just inserted reads: a Business, or the import's lighter row."""

    id: int
    team_id: str
    platform: str
    platform_key: str
    scrape_types: list[str]
    active: bool


@transaction.atomic
def assignments_sync(*, businesses: Sequence[Business], fresh: bool = False) -> SyncResult:
    """Make the mappings of `businesses` match what they should be now.

    An active business has one mapping per scrape type in the group of its team's
    effective interval; an inactive one has none. Used by registration, tier changes,
    custom intervals (set, removed, expired), activation and deletion. `fresh=True`: see
    `assignments_create`.
    """
    if fresh:
        return assignments_create(businesses=businesses)
    if not businesses:
        return SyncResult()
    by_id = {b.pk: b for b in businesses}
    list(Business.objects.select_for_update().filter(id__in=by_id).order_by("id").values("id"))
    now = db_now()
    teams = Team.objects.in_bulk({b.team_id for b in businesses})
    intervals = effective_intervals(teams.values())

    wanted: dict[tuple[int, str], GroupKey] = {}
    for b in businesses:
        if b.active:
            for st in b.scrape_types:
                wanted[(b.pk, st)] = (b.platform, st, intervals[(b.team_id, b.platform)])
    groups = _groups_for(wanted.values())

    def current_mappings() -> dict[tuple[int, str], Mapping]:
        rows = Mapping.objects.filter(business_id__in=by_id).select_related("batch")
        return {(m.business_id, m.scrape_type): m for m in rows}

    current = current_mappings()
    source_groups = {m.batch.group_id for m in current.values()}
    locked_groups = _lock_groups(source_groups | {g.id for g in groups.values()})
    # Re-read under the group locks: a rebalance may have moved mappings inside a group.
    current = current_mappings()

    plan = _plan_moves(current, wanted, groups, by_id)
    to_place, moved, to_delete = plan.to_place, plan.moved, plan.to_delete
    adjust_counts(dict(plan.removed_from))
    placed = place(locked_groups, {g: len(ms) for g, ms in to_place.items()}, now)
    for group_id, mappings in to_place.items():
        for mapping, batch in zip(mappings, placed[group_id], strict=True):
            mapping.batch = batch
    Mapping.objects.filter(id__in=to_delete).delete()
    Mapping.objects.bulk_update(moved, ["batch"], batch_size=2000)
    new = [m for ms in to_place.values() for m in ms if m.pk is None]
    rows = [(m.business_id, m.batch_id, m.scrape_type, m.team_id, m.platform_key) for m in new]
    insert_mappings(rows, now)
    return SyncResult(created=len(new), moved=len(moved), removed=len(to_delete), kept=plan.kept)


@transaction.atomic
def assignments_create(*, businesses: Sequence[FreshBusiness]) -> SyncResult:
    """Place businesses inserted in the caller's transaction: nobody else can see them and
    they have no mappings yet, so only their groups are locked and nothing is read back.
    Works on plain rows, not model instances: an import chunk places 10,000 mappings."""
    if not businesses:
        return SyncResult()
    now = db_now()
    teams = Team.objects.in_bulk({b.team_id for b in businesses})
    intervals = effective_intervals(teams.values())
    wanted: dict[GroupKey, list[tuple[FreshBusiness, str]]] = defaultdict(list)
    for b in businesses:
        for st in b.scrape_types if b.active else ():
            wanted[(b.platform, st, intervals[(b.team_id, b.platform)])].append((b, st))
    groups = _groups_for(wanted)
    locked_groups = _lock_groups(g.id for g in groups.values())
    placed = place(locked_groups, {groups[k].id: len(slots) for k, slots in wanted.items()}, now)
    rows: list[MappingRow] = [
        (b.id, batch.pk, st, b.team_id, b.platform_key)
        for key, slots in wanted.items()
        for (b, st), batch in zip(slots, placed[groups[key].id], strict=True)
    ]
    insert_mappings(rows, now)
    return SyncResult(created=len(rows))


# --- operator tools --------------------------------------------------------------------------


def _move_mappings(mapping_ids: list[int], source: Batch, target: Batch) -> None:
    Mapping.objects.filter(id__in=mapping_ids).update(batch=target)
    source.business_count -= len(mapping_ids)
    target.business_count += len(mapping_ids)


def _surplus_ids(batch: Batch, count: int) -> list[int]:
    """The `count` most recently added mappings of a batch: they move first."""
    rows = Mapping.objects.filter(batch=batch).order_by("-id").values_list("id", flat=True)
    return list(rows[:count])


def _write_counts(batches: Iterable[Batch], original: dict[int, int]) -> None:
    adjust_counts({b.pk: b.business_count - original[b.pk] for b in batches})


@transaction.atomic
def group_rebalance(*, group: ScheduleGroup) -> int:
    """Even out the active batches of a group; returns how many mappings moved."""
    _lock_groups([group.pk])
    batches = list(group.batches.filter(status=BatchStatus.ACTIVE).order_by("batch_index"))
    if len(batches) < 2:
        return 0
    original = {b.pk: b.business_count for b in batches}
    total = sum(original.values())
    base, extra = divmod(total, len(batches))
    targets = {b.pk: min(b.capacity, base + (1 if i < extra else 0)) for i, b in enumerate(batches)}
    donors = [b for b in batches if b.business_count > targets[b.pk]]
    takers = [b for b in batches if b.business_count < targets[b.pk]]
    moved = 0
    for donor in donors:
        surplus = _surplus_ids(donor, donor.business_count - targets[donor.pk])
        for taker in takers:
            room = targets[taker.pk] - taker.business_count
            if room <= 0 or not surplus:
                continue
            chunk, surplus = surplus[:room], surplus[room:]
            _move_mappings(chunk, donor, taker)
            moved += len(chunk)
    _write_counts(batches, original)
    return moved


@transaction.atomic
def group_consolidate(*, group: ScheduleGroup) -> tuple[int, int]:
    """Merge under-used batches into as few as their capacity allows and retire the emptied
    ones. Returns (mappings moved, batches retired)."""
    _lock_groups([group.pk])
    batches = list(group.batches.filter(status=BatchStatus.ACTIVE))
    original = {b.pk: b.business_count for b in batches}
    total = sum(original.values())
    capacity = max((b.capacity for b in batches), default=1)
    needed = math.ceil(total / capacity) if total else 0
    # Keep the fullest batches (fewest moves); ties keep the lowest index.
    batches.sort(key=lambda b: (-b.business_count, b.batch_index))
    keep, drain = batches[:needed], batches[needed:]
    moved = 0
    for donor in drain:
        remaining = _surplus_ids(donor, donor.business_count)
        for taker in keep:
            room = taker.capacity - taker.business_count
            if room > 0 and remaining:
                chunk, remaining = remaining[:room], remaining[room:]
                _move_mappings(chunk, donor, taker)
                moved += len(chunk)
    _write_counts(batches, original)
    emptied = [b.pk for b in drain if b.business_count == 0]
    Batch.objects.filter(id__in=emptied).update(status=BatchStatus.RETIRED, updated_at=db_now())
    return moved, len(emptied)


def groups_matching(
    *, platform: str | None = None, scrape_type: str | None = None, interval: int | None = None
) -> list[ScheduleGroup]:
    filters = {"platform": platform, "scrape_type": scrape_type, "interval_minutes": interval}
    return list(
        ScheduleGroup.objects.filter(
            **{k: v for k, v in filters.items() if v is not None}
        ).order_by("id")
    )
