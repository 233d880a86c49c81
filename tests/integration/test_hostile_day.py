"""Every hostile-Apify switch at once, through the stack as users start it (Celery worker and
beat on Redis, PostgreSQL through PgBouncer when installed, the strict fake reached by
apify-client): slow calls, 5xx bursts, 429 storms, runs that never call back, lying
pagination headers, datasets that move while read, non-object items and bodies cut mid-way.
The loop must still end every execution truthfully, with each item on its own business."""

from __future__ import annotations

import time

import pytest

from apify_sandbox.hostile import Hostility
from businesses.models import ReviewItem
from businesses.services import team_upsert
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.system_schedules import system_periodic_tasks_ensure
from schedules.states import TERMINAL_STATES, ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import CeleryStack
from tests.schedules.test_ingest import review

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REVIEWS_PER_BUSINESS = 9
HOSTILE = Hostility(
    latency=0.01,
    error_burst=2,
    error_every=9,
    rate_limit_storm=1,
    rate_limit_every=13,
    silent_runs=True,
    lying_pagination=True,
    shifting_datasets=2,
    non_object_rate=0.1,
    truncate_every=4,
)
STACK_ENV = {
    "APIFY_MAX_RETRIES": "5",  # a 5xx burst next to a 429 is still absorbed
    "SCHEDULER_RUN_TIMEOUT_SECONDS": "2",  # silent runs are reconciled 2 + 1 s after start
    "SCHEDULER_RUN_GRACE_SECONDS": "1",
    "SCHEDULER_RECONCILE_TICK_SECONDS": "1",
    "SCHEDULER_CAPACITY": "google=2",
}


def finish_started_runs(fake: FakeApify, finished: set[str]) -> None:
    """Play the actor: each new run ends with reviews for every business of its input."""
    started = Execution.objects.filter(apify_run_id__isnull=False)
    for execution in started.exclude(apify_run_id__in=finished):
        items = [
            review(entry["key"], f"{entry['business_id']}-{n}")
            for entry in execution.business_snapshot
            for n in range(REVIEWS_PER_BUSINESS)
        ]
        fake.finish_run(execution.apify_run_id, "SUCCEEDED", items)
        finished.add(execution.apify_run_id)


def test_a_hostile_day_ends_every_execution_truthfully_with_nothing_misplaced(
    fake: FakeApify, celery_stack: CeleryStack, settings
) -> None:
    fake.hostility = HOSTILE
    celery_stack.env.update(STACK_ENV)
    settings.SCHEDULER_CAPACITY = {"google": 2}
    settings.SCHEDULER_RECONCILE_TICK_SECONDS = 1  # the periodic task is written from here
    schedule_groups_init()
    system_periodic_tasks_ensure()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="professional")[0]
    businesses = register_google(alice, 3, scrape_types=["reviews"])
    businesses += register_google(bob, 3, scrape_types=["reviews"])
    Batch.objects.update(next_run_at=db_now())
    batches = Batch.objects.filter(business_count__gt=0).count()
    assert batches == 3

    celery_stack.start()
    finished: set[str] = set()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            finish_started_runs(fake, finished)
            scheduled = Execution.objects.filter(trigger="scheduled")
            if (
                scheduled.count() >= batches
                and not scheduled.exclude(state__in=TERMINAL_STATES).exists()
            ):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("executions still not finished")
    except AssertionError:
        print(celery_stack.dump_logs())
        raise

    executions = list(Execution.objects.filter(trigger="scheduled"))
    errors = [e.error for e in executions]
    assert {e.state for e in executions} == {ExecutionState.SUCCEEDED}, errors
    served = {
        (int(item["reviewId"].split("-")[0]), item["reviewId"])
        for e in executions
        for item in (
            HOSTILE.served_item(e.apify_dataset_id, raw) for raw in fake.runs[e.apify_run_id].items
        )
        if isinstance(item, dict)
    }
    stored = set(ReviewItem.objects.values_list("business_id", "platform_item_id"))
    assert stored == served  # every object item, each on its own business, once
    keys = {b.id: b.platform_key for b in businesses}
    assert all(
        item.payload["placeId"] == keys[item.business_id] for item in ReviewItem.objects.all()
    )
    assert sum(e.attributed_count for e in executions) == len(stored)
    assert sum(e.unmatched_count for e in executions) == (
        len(businesses) * REVIEWS_PER_BUSINESS - len(stored)
    )
    bitten = {"latency", "500", "429", "silent_run", "lying_page", "shifted_page"}
    bitten |= {"non_object", "truncated"}
    assert bitten <= set(HOSTILE.counts), HOSTILE.counts
