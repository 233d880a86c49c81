"""Admission with real processes: three Celery workers race for an Apify account of two runs
(the strict fake, through the real apify-client); the webhook reaches the live server."""

from __future__ import annotations

import time

import pytest

from businesses.services import team_upsert
from retry.models import RetryEntry
from scheduler_project.dbclock import db_now
from schedules.admission import CAPACITY_WAIT
from schedules.models import Batch, Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import TOKEN, CeleryStack, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

RUNS = 2
BATCHES = 6


def _running() -> list[Execution]:
    return list(Execution.objects.filter(state="running"))


def test_racing_workers_never_pass_the_account_and_waiting_work_starts_when_a_run_ends(
    fake: FakeApify, celery_stack: CeleryStack, live_server, settings
) -> None:
    settings.WEBHOOK_BASE_URL = celery_stack.env["WEBHOOK_BASE_URL"] = live_server.url
    settings.APIFY_API_URL, settings.APIFY_TOKEN = fake.url, TOKEN
    settings.SCHEDULER_CAPACITY = {"google": 1}  # one business per batch: six batches
    fake.set_limits(max_concurrent_runs=RUNS)
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    register_google(alice, BATCHES, scrape_types=["reviews"])
    assert Batch.objects.filter(business_count=1).count() == BATCHES
    Batch.objects.update(next_run_at=db_now())

    for name in ("w1", "w2", "w3"):  # no beat: nothing ticks after this one dispatch
        celery_stack.start_worker(name)
    try:
        assert dispatch_tick().created == BATCHES
        wait_for(lambda: len(_running()) == RUNS, 60)
        time.sleep(2)  # every start message has been taken by now: still two
        assert len(_running()) == RUNS
        waiting = Execution.objects.filter(state="pending")
        assert waiting.count() == BATCHES - RUNS
        assert set(waiting.values_list("wait_reason", flat=True)) == {CAPACITY_WAIT}

        finished: set = set()
        while len(finished) < BATCHES:
            execution = next(e for e in _running() if e.id not in finished)
            item = {"placeId": execution.business_snapshot[0]["key"], "reviewId": str(execution.id)}
            assert fake.finish_run(execution.apify_run_id, "SUCCEEDED", [item]) == [202]
            finished.add(execution.id)
            done = Execution.objects.filter(id=execution.id, state="succeeded")
            wait_for(done.exists, 60)
            left = BATCHES - len(finished)
            # The run's end alone (no tick) lets the next waiting execution in.
            wait_for(lambda left=left: len(_running()) == min(RUNS, left), 60)
            assert fake.peak_runs <= RUNS
        wait_for(lambda: Execution.objects.filter(state="succeeded").count() == BATCHES, 60)
    except AssertionError:
        print(celery_stack.dump_logs())
        raise

    assert fake.peak_runs == RUNS and not fake.refused
    assert not RetryEntry.objects.exists()
    late = Execution.objects.exclude(waiting_since=None).count()
    assert late == BATCHES - RUNS  # those that waited say so
