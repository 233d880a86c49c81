"""Repair of the repairable findings of the checks (`validate_global_schedules --fix`).

One transaction, locks taken in the services' order (businesses → schedule groups →
batches), so it can run while the service is live.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db import connection, transaction

from businesses.models import Business
from scheduler_project.dbclock import db_now
from schedules.models import Batch, BatchStatus, ScheduleGroup
from schedules.policies import first_slot_at_or_after
from schedules.services.assignment import assignments_sync
from schedules.validation.base import BATCH, BUSINESS, MAPPING, CheckResult, Scope, _rows
from schedules.validation.checks import _RECOUNT, check_empty_batches

_SYNCED = ("missing_mappings", "orphan_mappings", "duplicate_mappings", "group_mismatch")


def _ids(results: Iterable[CheckResult], checks: Iterable[str], key: str) -> set:
    checks = set(checks)
    return {f.ids[key] for r in results if r.name in checks for f in r.findings if key in f.ids}


def _lock_groups_of(batch_ids: Iterable[int] | None) -> None:
    """Lock the groups of these batches (all groups: None), in id order like the services."""
    groups = ScheduleGroup.objects.select_for_update().order_by("id")
    if batch_ids is not None:
        groups = groups.filter(batches__id__in=list(batch_ids))
    list(groups.values_list("id", flat=True))


def _recount(batch_ids: Iterable[int] | None) -> int:
    """ONE UPDATE … FROM (recount) of the batches whose count is off."""
    where, params = "", []
    if batch_ids is not None:
        where, params = " AND ba.id = ANY(%s)", [list(batch_ids)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            UPDATE {BATCH} ba SET business_count = fixed.actual, updated_at = statement_timestamp()
            FROM ({_RECOUNT}) fixed WHERE fixed.id = ba.id {where}
            """,
            params,
        )
        return cursor.rowcount


@transaction.atomic
def repair(results: Sequence[CheckResult], scope: Scope | None = None) -> dict[str, int]:
    """Fix the repairable findings of `results`; returns what was done, per repair.

    Order: lock the affected businesses, drop duplicate mappings, restore team/key on
    mappings, lock the groups and recount (so `assignments_sync`'s count deltas start
    exact), sync the affected businesses, retire emptied batches, move absurd next runs to
    the next slot of their grid.
    """
    scope = scope or Scope()
    done: dict[str, int] = {}
    business_ids = _ids(results, (*_SYNCED, "mapping_isolation"), "business")
    list(
        Business.objects.select_for_update()
        .filter(id__in=business_ids)
        .order_by("id")
        .values_list("id", flat=True)
    )

    with connection.cursor() as cursor:
        duplicates = _ids(results, ["duplicate_mappings"], "business")
        if duplicates:
            cursor.execute(
                f"""
                DELETE FROM {MAPPING} m USING {MAPPING} keep
                WHERE m.business_id = ANY(%s) AND keep.business_id = m.business_id
                  AND keep.scrape_type = m.scrape_type AND keep.id < m.id
                """,
                [list(duplicates)],
            )
            done["duplicate mappings deleted"] = cursor.rowcount
        isolation = _ids(results, ["mapping_isolation"], "mapping")
        if isolation:
            cursor.execute(
                f"""
                UPDATE {MAPPING} m SET team_id = b.team_id, platform_key = b.platform_key
                FROM {BUSINESS} b WHERE b.id = m.business_id AND m.id = ANY(%s)
                """,
                [list(isolation)],
            )
            done["mappings given their business's team/key"] = cursor.rowcount

    # Recount every off batch: deleting duplicates changed counts the checks did not see.
    off = [row[0] for row in _rows(_RECOUNT)]
    if off:
        _lock_groups_of(off)
        done["batch counts recounted"] = _recount(off)

    if business_ids:
        businesses = list(Business.objects.filter(id__in=business_ids).order_by("id"))
        sync = assignments_sync(businesses=businesses)
        done["businesses synced"] = len(businesses)
        done["mappings created/moved/removed"] = sync.created + sync.moved + sync.removed

    # The batches the sync above has just emptied are retired: it moved their businesses to
    # where they belong. (Empty batches the product's flows leave are normal: the tick
    # advances them without running them.)
    empty = [f.ids["batch"] for f in check_empty_batches(scope)] if business_ids else []
    if empty:
        _lock_groups_of(empty)
        done["empty batches retired"] = (
            Batch.objects.filter(id__in=empty, status=BatchStatus.ACTIVE)
            .exclude(mappings__isnull=False)
            .update(status=BatchStatus.RETIRED, updated_at=db_now())
        )

    late = _ids(results, ["next_run_at"], "batch")
    if late:
        now = db_now()
        batches = list(
            Batch.objects.select_for_update(of=("self",))
            .select_related("group")
            .filter(id__in=late, status=BatchStatus.ACTIVE)
            .order_by("id")
        )
        for batch in batches:
            batch.next_run_at = first_slot_at_or_after(batch.grid(), now)
            batch.updated_at = now
        Batch.objects.bulk_update(batches, ["next_run_at", "updated_at"])
        done["next_run_at moved to the next slot"] = len(batches)
    return done
