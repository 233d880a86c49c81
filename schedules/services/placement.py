"""Placement: the batch each new mapping joins, and the batch rows and counts that follow.

Set-based whatever the number of groups, batches or mappings: two reads of the groups'
batches, one insert of the batches opened, one UPDATE of the counts, one COPY of the
mappings. The callers (schedules/services/assignment.py) hold the groups' locks.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from datetime import datetime

from django.db import connection
from django.db.models import Case, F, IntegerField, Max, Value, When

from businesses.platforms import get_platform
from scheduler_project import conf
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, Mapping, ScheduleGroup
from schedules.policies import first_slot_at_or_after, stagger_offset_seconds

MappingRow = tuple[int, int, str, str, str]  # a new one: business, batch, type, team, key


def adjust_counts(deltas: dict[int, int]) -> None:
    """Apply count deltas to many batches in ONE UPDATE (caller holds the group locks)."""
    deltas = {batch_id: d for batch_id, d in deltas.items() if d}
    if not deltas:
        return
    Batch.objects.filter(id__in=deltas).update(
        business_count=F("business_count")
        + Case(
            *(When(id=batch_id, then=Value(d)) for batch_id, d in deltas.items()),
            output_field=IntegerField(),
        ),
        updated_at=db_now(),
    )


def _new_batch(group: ScheduleGroup, index: int, now: datetime) -> Batch:
    offset = stagger_offset_seconds(index, group.interval_minutes, conf.get().stagger_step_minutes)
    batch = Batch(
        group=group,
        batch_index=index,
        capacity=get_platform(group.platform).capacity,
        stagger_offset_seconds=offset,
    )
    batch.next_run_at = first_slot_at_or_after(group.grid(offset), now)
    return batch


def _choose(
    group: ScheduleGroup, open_batches: list[Batch], next_index: int, count: int, now: datetime
) -> tuple[list[Batch], list[Batch], dict[int, int]]:
    """(batch of each of `count` new mappings in turn, batches to open, count deltas): the
    active batch with the most free room (ties: lowest index), a new one when all are full."""
    active = {b.batch_index: b for b in open_batches}
    heap = [(-b.free_room, b.batch_index) for b in active.values()]
    heapq.heapify(heap)
    chosen: list[int] = []
    for _ in range(count):
        if not heap or heap[0][0] >= 0:
            batch = _new_batch(group, next_index, now)
            active[next_index] = batch
            heapq.heappush(heap, (-batch.capacity, next_index))
            next_index += 1
        free, index = heapq.heappop(heap)
        chosen.append(index)
        heapq.heappush(heap, (free + 1, index))

    added = Counter(chosen)
    new = [b for b in active.values() if b.pk is None]
    for batch in new:
        batch.business_count = added[batch.batch_index]
    deltas = {b.pk: added[i] for i, b in active.items() if b.pk is not None}
    return [active[index] for index in chosen], new, deltas


def place(
    groups: dict[int, ScheduleGroup], counts: dict[int, int], now: datetime
) -> dict[int, list[Batch]]:
    """group id → the batch of each of its `counts[id]` new mappings (see `_choose`). The
    caller holds the groups' locks and saves the mappings; batches and their counts are
    written here. Only the batches with room are read (a full one is never chosen), with
    each group's last index: the 1,750 full batches of 100,000 businesses are not loaded
    again by every import chunk."""
    open_batches: dict[int, list[Batch]] = defaultdict(list)
    for batch in Batch.objects.filter(
        group_id__in=counts, status=BatchStatus.ACTIVE, business_count__lt=F("capacity")
    ):
        open_batches[batch.group_id].append(batch)
    last = dict(
        Batch.objects.filter(group_id__in=counts)
        .values_list("group_id")
        .annotate(last=Max("batch_index"))
    )
    placed, new, deltas = {}, [], {}
    for group_id, count in counts.items():
        chosen, opened, changed = _choose(
            groups[group_id], open_batches[group_id], last.get(group_id, -1) + 1, count, now
        )
        placed[group_id] = chosen
        new += opened
        deltas.update(changed)
    Batch.objects.bulk_create(new)
    adjust_counts(deltas)
    return placed


def insert_mappings(rows: list[MappingRow], now: datetime) -> None:
    """New mappings in bulk. On PostgreSQL through COPY: building INSERT statements for
    the 10,000 mappings of an import chunk cost more than the rest of the chunk
    (bench/import.py). The caller holds the locks that make these rows conflict-free."""
    if connection.vendor != "postgresql" or len(rows) < 100:
        fields = ("business_id", "batch_id", "scrape_type", "team_id", "platform_key")
        mappings = [Mapping(**dict(zip(fields, row, strict=True))) for row in rows]
        Mapping.objects.bulk_create(mappings, batch_size=2000)
        return
    columns = "business_id, batch_id, scrape_type, team_id, platform_key, created_at"
    with (
        connection.cursor() as cursor,
        cursor.copy(f"COPY {Mapping._meta.db_table} ({columns}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row((*row, now))
