"""Admission into the Apify account, in the database, against the strict fake through the real
apify-client: concurrent starts never pass the limits, refusals never fail anything."""

from __future__ import annotations

from datetime import timedelta

import pytest

from businesses.models import Business, Team
from retry.models import RetryEntry
from scheduler_project.dbclock import db_now
from schedules.admission import CAPACITY_WAIT, MONTHLY_STOP, REFUSAL_HOLD
from schedules.capacity_selectors import capacity_overview
from schedules.models import ApifyAccount, Execution, Trigger
from schedules.services.capacity import account_refresh, executions_admit
from schedules.services.execution_start import execution_start, executions_admit_and_launch
from schedules.services.executions import execution_build, execution_cancel
from schedules.services.reconcile import executions_abort_cancelled
from schedules.states import ExecutionState
from tests.concurrency import run_concurrently
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify

S = ExecutionState


def _snapshot(business: Business) -> list[dict]:
    return [
        {
            "business_id": business.id,
            "team_id": business.team_id,
            "external_id": business.external_id,
            "key": business.platform_key,
        }
    ]


def make_pending(business: Business, count: int, *, trigger: str = Trigger.MANUAL) -> list:
    """`count` pending executions of one business, slots one minute apart (oldest first)."""
    now = db_now()
    executions = [
        execution_build(
            trigger=trigger,
            now=now,
            platform="google",
            scrape_type="reviews",
            scheduled_for=now - timedelta(minutes=count - i),
            snapshot=_snapshot(business),
        )
        for i in range(count)
    ]
    Execution.objects.bulk_create(executions)
    return [e.id for e in executions]


def _states() -> dict[str, int]:
    counts: dict[str, int] = {}
    for state in Execution.objects.values_list("state", flat=True):
        counts[state] = counts.get(state, 0) + 1
    return counts


@pytest.mark.django_db(transaction=True)
def test_twelve_racing_starts_never_pass_the_run_limit(fake_apify: FakeApify, alice: Team) -> None:
    fake_apify.set_limits(max_concurrent_runs=3)
    account_refresh()
    (business,) = register_google(alice)
    ids = make_pending(business, 12)

    run_concurrently(lambda i: execution_start(execution_id=ids[i]), 12)

    assert _states() == {S.RUNNING: 3, S.PENDING: 9}
    assert fake_apify.peak_runs == 3 and sum(fake_apify.refused.values()) == 0
    waiting = Execution.objects.filter(state=S.PENDING)
    assert set(waiting.values_list("wait_reason", flat=True)) == {CAPACITY_WAIT}
    assert not waiting.filter(lease_expires_at__isnull=False).exists()  # a wait never expires
    running = Execution.objects.filter(state=S.RUNNING).values_list("scheduled_for", flat=True)
    oldest = Execution.objects.order_by("scheduled_for").values_list("scheduled_for", flat=True)
    assert sorted(running) == list(oldest[:3])  # oldest slots first


@pytest.mark.django_db(transaction=True)
def test_racing_starts_never_pass_the_memory_limit(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    settings.SCHEDULER_RUN_MEMORY = {"google.reviews": 4096}
    fake_apify.set_limits(max_memory_mbytes=16384)
    account_refresh()
    (business,) = register_google(alice)
    ids = make_pending(business, 10)

    run_concurrently(lambda i: execution_start(execution_id=ids[i]), 10)

    assert _states() == {S.RUNNING: 4, S.PENDING: 6}
    assert fake_apify.peak_memory_mbytes == 16384 and not fake_apify.refused
    assert capacity_overview().memory_mbytes_in_use == 16384


def test_a_402_puts_the_execution_back_to_waiting_and_fails_nothing(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    fake_apify.set_limits(max_concurrent_runs=4)
    account_refresh()  # room for 4 as far as we know
    fake_apify.set_external_usage(runs=4)  # ... then another client takes all of it
    (business,) = register_google(alice)
    (execution_id,) = make_pending(business, 1)

    assert execution_start(execution_id=execution_id) == S.PENDING

    execution = Execution.objects.get(id=execution_id)
    assert execution.state == S.PENDING and execution.error == ""
    assert execution.wait_reason.startswith(REFUSAL_HOLD)
    assert "concurrent-runs-limit-exceeded" in execution.wait_reason
    assert execution.lease_expires_at is None and execution.requested_memory_mbytes is None
    assert not RetryEntry.objects.exists()
    assert fake_apify.refused == {"concurrent-runs-limit-exceeded": 1}
    account = ApifyAccount.objects.get()
    assert account.refusals == 1 and account.external_runs == 4  # the limits were read again
    assert account.hold_until > db_now()

    # Room comes back and the hold runs out: it starts, with no failure on record.
    fake_apify.set_external_usage(runs=0)
    account_refresh()
    ApifyAccount.objects.update(hold_until=None)
    assert execution_start(execution_id=execution_id) == S.RUNNING
    assert not RetryEntry.objects.exists()


def test_a_waiting_execution_starts_when_a_run_ends(fake_apify: FakeApify, alice: Team) -> None:
    fake_apify.set_limits(max_concurrent_runs=1)
    account_refresh()
    (business,) = register_google(alice)
    first, second = make_pending(business, 2)
    assert execution_start(execution_id=first) == S.RUNNING
    assert execution_start(execution_id=second) == S.PENDING

    execution_cancel(execution_id=first, actor="op", reason="make room")
    # Cancelled, its run still holds the account until it is aborted: nothing fits yet.
    assert executions_admit_and_launch(limit=10) == {}
    assert executions_abort_cancelled() == 1

    assert executions_admit_and_launch(limit=10) == {second: S.RUNNING}
    assert not fake_apify.refused


def test_the_monthly_limit_stops_starts_and_they_resume_by_themselves(
    fake_apify: FakeApify, alice: Team
) -> None:
    fake_apify.set_limits(max_monthly_usage_usd=50)
    fake_apify.set_external_usage(usage_usd=49.5)  # within the 1 USD headroom
    account_refresh()
    (business,) = register_google(alice)
    (execution_id,) = make_pending(business, 1)

    assert execution_start(execution_id=execution_id) == S.PENDING
    execution = Execution.objects.get(id=execution_id)
    assert execution.wait_reason.startswith(MONTHLY_STOP)
    assert capacity_overview().stop_reason.startswith(MONTHLY_STOP)

    fake_apify.set_limits(max_monthly_usage_usd=500)
    account_refresh()
    assert executions_admit_and_launch(limit=10) == {execution_id: S.RUNNING}


def test_limits_are_read_with_the_client_and_shown_with_their_age(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    settings.APIFY_MAX_CONCURRENT_RUNS = 5
    fake_apify.set_limits(max_memory_mbytes=32768, max_concurrent_runs=32)
    fake_apify.set_external_usage(memory_mbytes=2048, runs=2)
    account_refresh()
    overview = capacity_overview()
    assert (overview.memory_mbytes_limit, overview.runs_limit) == (32768 - 2048, 5)
    assert (overview.external_memory_mbytes, overview.external_runs) == (2048, 2)
    assert 0 <= overview.limits_age_seconds < 60 and overview.refresh_error == ""
    assert any(r.path == "/v2/users/me/limits" for r in fake_apify.requests)


def test_an_unreachable_apify_keeps_the_last_limits_and_says_why(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    fake_apify.set_limits(max_concurrent_runs=7)
    account_refresh()
    settings.APIFY_API_URL = "http://127.0.0.1:9"
    account_refresh()
    overview = capacity_overview()
    assert overview.runs_limit == 7 and overview.refresh_error


def test_the_kill_switch_admits_nothing(fake_apify: FakeApify, alice: Team) -> None:
    from schedules.services.dispatch_switch import dispatch_pause

    (business,) = register_google(alice)
    make_pending(business, 2)
    dispatch_pause(actor="op", reason="maintenance")
    assert executions_admit() == []
    assert _states() == {S.PENDING: 2}


def test_retries_take_their_share_while_scheduled_work_waits(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    settings.SCHEDULER_RETRY_CAPACITY_SHARE = 0.25
    fake_apify.set_limits(max_concurrent_runs=4)
    account_refresh()
    (business,) = register_google(alice)
    make_pending(business, 4, trigger=Trigger.RETRY)  # older slots than the scheduled ones
    make_pending(business, 4, trigger=Trigger.MANUAL)
    admitted = executions_admit()
    triggers = Execution.objects.filter(id__in=[a.execution_id for a in admitted])
    assert sorted(triggers.values_list("trigger", flat=True)) == ["manual"] * 3 + ["retry"]
