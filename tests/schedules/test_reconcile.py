"""Lost webhooks are reconciled by polling; cancelled runs are aborted at Apify."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client

from access.models import AuditEvent
from businesses.models import ReviewItem, Team
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.executions import execution_cancel
from schedules.services.reconcile import (
    batches_repair_next_runs,
    executions_abort_cancelled,
    executions_reconcile,
)
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.schedules.test_ingest import review, start_batch_of


def _started_ago(execution: Execution, seconds: int) -> None:
    Execution.objects.filter(id=execution.id).update(
        started_at=db_now() - timedelta(seconds=seconds)
    )


def test_a_run_whose_webhook_never_came_is_finished_by_polling(
    fake_apify: FakeApify,
    alice: Team,
    settings,
) -> None:
    settings.SCHEDULER_RUN_TIMEOUT_SECONDS, settings.SCHEDULER_RUN_GRACE_SECONDS = 600, 60
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    fake_apify.finish_run(
        execution.apify_run_id,
        "SUCCEEDED",
        [review(business.platform_key, "r1")],
        deliver_webhooks=False,
    )
    _started_ago(execution, 600 + 30)  # inside the grace: not yet
    assert executions_reconcile() == 0
    _started_ago(execution, 600 + 61)  # controlled time: past timeout + grace
    assert executions_reconcile() == 1
    execution.refresh_from_db()
    assert execution.state == ExecutionState.SUCCEEDED
    assert ReviewItem.objects.filter(business=business).count() == 1
    assert executions_reconcile() == 0


def test_an_overdue_run_still_running_at_apify_is_left_running(
    fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    _started_ago(execution, 10 * 3600)
    assert executions_reconcile() == 0
    execution.refresh_from_db()
    assert execution.state == ExecutionState.RUNNING


def test_a_run_apify_never_heard_of_fails_its_execution(fake_apify: FakeApify, alice: Team) -> None:
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    del fake_apify.runs[execution.apify_run_id]
    _started_ago(execution, 10 * 3600)
    assert executions_reconcile() == 1
    execution.refresh_from_db()
    assert execution.state == ExecutionState.FAILED
    assert "does not know run" in execution.error


def test_an_operator_cancel_aborts_the_apify_run(fake_apify: FakeApify, alice: Team) -> None:
    (business,) = register_google(alice)
    execution = start_batch_of(business)
    execution_cancel(execution_id=execution.id, actor="ops", reason="wrong input")
    execution.refresh_from_db()
    assert (execution.state, execution.run_abort_pending) == (ExecutionState.CANCELLED, True)
    assert AuditEvent.objects.filter(action="execution.cancel", actor="ops").exists()
    assert executions_abort_cancelled() == 1
    assert fake_apify.runs[execution.apify_run_id].status == "ABORTED"
    execution.refresh_from_db()
    assert not execution.run_abort_pending
    assert executions_abort_cancelled() == 0


def test_a_next_run_set_far_ahead_is_brought_back_to_the_batchs_grid(
    alice: Team, client: Client
) -> None:
    """An edit that put a batch's next run 30 days out would stop it silently; the reconcile
    tick notices and moves it to its next slot, inside one interval, audited and counted in
    the metrics."""
    (business,) = register_google(alice, 1, scrape_types=["reviews"])
    batch = business.mappings.get().batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now() + timedelta(days=30))
    assert "scheduler_next_run_repairs_total 0.0" in client.get("/metrics").text
    assert batches_repair_next_runs() == 1
    batch.refresh_from_db()
    assert batch.next_run_at <= db_now() + timedelta(minutes=batch.group.interval_minutes)
    assert batches_repair_next_runs() == 0

    event = AuditEvent.objects.get(action="batch.next_run_repair")
    assert (event.actor, event.object_id) == ("system:reconcile", str(batch.id))
    assert "ahead" in event.before["problem"]
    assert "scheduler_next_run_repairs_total 1.0" in client.get("/metrics").text
