"""The dispatcher tick (SPEC §3 Dispatch, Misfire): exactly once, on the database clock."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution, Heartbeat, ScheduleGroup
from schedules.services import dispatch
from schedules.services.dispatch import dispatch_chunk, dispatch_tick
from schedules.states import ExecutionState
from tests.concurrency import run_concurrently
from tests.schedules.helpers import make_batch

HOUR = timedelta(hours=1)


def _hour_slot(offset: timedelta = timedelta()) -> object:
    """A slot one minute ago on the database clock (+ offset); batches made with
    `make_batch(next_run_at=...)` get an hourly grid through it."""
    return (db_now() - timedelta(minutes=1)).replace(microsecond=0) + offset


def test_a_due_batch_is_dispatched_once_and_moves_to_its_next_slot(db: None) -> None:
    slot = _hour_slot()
    batch = make_batch(next_run_at=slot)
    result = dispatch_tick()
    assert (result.claimed, result.created) == (1, 1)
    execution = Execution.objects.get()
    assert (execution.batch_id, execution.scheduled_for, execution.state, execution.trigger) == (
        batch.id,
        slot,
        ExecutionState.PENDING,
        "scheduled",
    )
    assert execution.lease_expires_at > db_now()
    batch.refresh_from_db()
    assert batch.next_run_at == slot + HOUR and batch.last_run_at is not None
    assert dispatch_tick().claimed == 0
    assert Execution.objects.count() == 1
    assert Heartbeat.objects.filter(kind="dispatcher").exists()


def test_an_emptied_batch_is_advanced_without_an_execution_and_runs_again_when_filled(
    db: None,
) -> None:
    """A batch a tier change or deletes left empty records no `skipped` execution every
    interval and counts no missed slot; its next slot stays current for the next business."""
    slot = _hour_slot()
    batch = make_batch(next_run_at=slot, business_count=0)
    result = dispatch_tick()
    assert (result.claimed, result.created, result.emptied, result.missed_slots) == (1, 0, 1, 0)
    assert not Execution.objects.exists()
    batch.refresh_from_db()
    assert batch.next_run_at == slot + HOUR and batch.missed_runs_count == 0

    Batch.objects.filter(id=batch.id).update(business_count=1, next_run_at=slot)
    assert dispatch_tick().created == 1


def test_a_batch_not_yet_due_is_left_alone(db: None) -> None:
    make_batch(next_run_at=db_now() + timedelta(seconds=30))
    assert dispatch_tick().claimed == 0
    assert not Execution.objects.exists()


@pytest.mark.parametrize("status", ["paused", "retired"])
def test_a_paused_or_retired_batch_is_never_dispatched(db: None, status: str) -> None:
    make_batch(next_run_at=_hour_slot(-5 * HOUR), status=status)
    assert dispatch_tick().claimed == 0
    assert not Execution.objects.exists()


def test_misfire_inside_the_window_runs_the_latest_slot_once(db: None) -> None:
    latest = _hour_slot()
    batch = make_batch(next_run_at=latest - 5 * HOUR)
    dispatch_tick()
    execution = Execution.objects.get()
    assert (execution.scheduled_for, execution.missed_slots) == (latest, 5)
    batch.refresh_from_db()
    assert (batch.missed_runs_count, batch.next_run_at) == (5, latest + HOUR)


def test_misfire_outside_the_window_waits_for_the_next_slot(db: None, settings) -> None:
    settings.SCHEDULER_CATCHUP_WINDOW_SECONDS = 0  # every missed slot is stale
    latest = _hour_slot()
    batch = make_batch(next_run_at=latest - 3 * HOUR)
    result = dispatch_tick()
    assert (result.claimed, result.created, result.missed_slots) == (1, 0, 4)
    assert not Execution.objects.exists()
    batch.refresh_from_db()
    assert (batch.missed_runs_count, batch.next_run_at) == (4, latest + HOUR)


def _running_execution(batch: Batch) -> Execution:
    return Execution.objects.create(
        batch=batch,
        platform="google",
        scrape_type="reviews",
        trigger="scheduled",
        scheduled_for=batch.next_run_at - HOUR,
        state=ExecutionState.RUNNING,
    )


def test_overlap_skip_records_a_skipped_execution(db: None) -> None:
    batch = make_batch(next_run_at=_hour_slot())
    previous = _running_execution(batch)
    result = dispatch_tick()
    assert (result.created, result.skipped_overlap) == (0, 1)
    skipped = Execution.objects.exclude(id=previous.id).get()
    assert skipped.state == ExecutionState.SKIPPED and skipped.error == dispatch.OVERLAP_SKIPPED
    previous.refresh_from_db()
    assert previous.state == ExecutionState.RUNNING


def test_overlap_allow_starts_alongside(db: None) -> None:
    batch = make_batch(next_run_at=_hour_slot(), overlap_policy="allow")
    previous = _running_execution(batch)
    assert dispatch_tick().created == 1
    states = set(Execution.objects.values_list("state", flat=True))
    assert states == {ExecutionState.RUNNING, ExecutionState.PENDING}
    previous.refresh_from_db()
    assert previous.state == ExecutionState.RUNNING


def test_overlap_cancel_previous_cancels_then_starts(db: None) -> None:
    batch = make_batch(next_run_at=_hour_slot(), overlap_policy="cancel_previous")
    previous = _running_execution(batch)
    result = dispatch_tick()
    assert (result.created, result.cancelled_previous) == (1, 1)
    previous.refresh_from_db()
    assert previous.state == ExecutionState.CANCELLED
    assert previous.error == dispatch.OVERLAP_CANCELLED
    assert Execution.objects.filter(state=ExecutionState.PENDING).count() == 1


def test_the_unique_slot_constraint_refuses_a_second_execution(db: None) -> None:
    slot = _hour_slot()
    batch = make_batch(next_run_at=slot)
    dispatch_tick()
    # Someone moves the batch back to the slot it already ran: it is claimed, but the slot
    # keeps its single execution.
    Batch.objects.filter(id=batch.id).update(next_run_at=slot)
    assert dispatch_tick().created == 0
    assert Execution.objects.filter(batch=batch, scheduled_for=slot).count() == 1


def test_queries_per_chunk_do_not_grow_with_the_number_of_batches(db: None) -> None:
    def queries_for(count: int, group_interval: int) -> int:
        for index in range(count):
            make_batch(next_run_at=_hour_slot(), interval=group_interval, index=index)
        with CaptureQueriesContext(connection) as ctx:
            result = dispatch_chunk(limit=500)
        assert result.created == count
        return len(ctx.captured_queries)

    assert queries_for(10, 60) == queries_for(200, 120)


def test_the_due_query_uses_the_partial_index(db: None) -> None:
    make_batch(next_run_at=_hour_slot())
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        plan = Batch.objects.due().explain()
    assert "batch_due_idx" in plan


@pytest.mark.django_db(transaction=True)
def test_a_batch_locked_by_another_connection_is_skipped() -> None:
    locked = make_batch(next_run_at=_hour_slot())
    free = make_batch(next_run_at=_hour_slot(), index=1)
    holding = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with transaction.atomic():
            list(Batch.objects.select_for_update().filter(id=locked.id))
            holding.set()
            release.wait(10)
        connection.close()

    holder = threading.Thread(target=hold_lock)
    holder.start()
    try:
        assert holding.wait(10)
        result = dispatch_tick()
        assert result.claimed == 1
        assert list(Execution.objects.values_list("batch_id", flat=True)) == [free.id]
    finally:
        release.set()
        holder.join()
    assert dispatch_tick().claimed == 1
    assert Execution.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_four_concurrent_dispatchers_give_exactly_one_execution_per_slot() -> None:
    group = ScheduleGroup.objects.create(
        platform="google", scrape_type="reviews", interval_minutes=60
    )
    slot = _hour_slot()
    offset = int(slot.timestamp()) % 3600
    Batch.objects.bulk_create(
        Batch(
            group=group,
            batch_index=i,
            capacity=10,
            business_count=1,
            next_run_at=slot,
            stagger_offset_seconds=offset,
        )
        for i in range(1000)
    )

    def dispatcher(_: int) -> int:
        created = 0
        while True:
            result = dispatch_tick(chunk_size=25, max_chunks=1)
            created += result.created
            if not result.claimed:
                return created

    totals = run_concurrently(dispatcher, 4)
    assert sum(totals) == 1000
    assert len([t for t in totals if t]) > 1, f"the work was not shared: {totals}"
    assert Execution.objects.count() == 1000
    assert Execution.objects.values("batch_id", "scheduled_for").distinct().count() == 1000
    assert not Batch.objects.filter(next_run_at__lte=slot).exists()


def test_a_cron_group_runs_at_its_cron_times_plus_the_batch_offset(db: None) -> None:
    group = ScheduleGroup.objects.create(
        platform="google",
        scrape_type="reviews",
        interval_minutes=1440,
        cron_expression="*/30 * * * *",
        timezone="America/New_York",
    )
    # Controlled time: pick the batch offset that puts a slot one minute ago.
    slot = (db_now() - timedelta(minutes=1)).replace(microsecond=0)
    offset = int((slot - group.grid().latest_at_or_before(slot)).total_seconds())
    batch = Batch.objects.create(
        group=group,
        batch_index=0,
        capacity=10,
        business_count=1,
        next_run_at=slot,
        stagger_offset_seconds=offset,
    )
    dispatch_tick()
    assert Execution.objects.get().scheduled_for == slot
    batch.refresh_from_db()
    assert batch.next_run_at == slot + timedelta(minutes=30)


@pytest.mark.django_db(transaction=True)
def test_the_run_dispatcher_command_ticks() -> None:
    from io import StringIO

    from django.core.management import call_command

    make_batch(next_run_at=_hour_slot())
    out = StringIO()
    call_command("run_dispatcher", "--once", stdout=out)
    assert "claimed 1, started 1" in out.getvalue()
    assert Execution.objects.count() == 1
