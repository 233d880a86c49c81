"""A place two teams track, end to end on the real apify-client and the strict fake Apify: the
run is asked for it once, and its reviews still reach both teams' businesses, nobody else's.

Dispatch → start (apify-client → FakeApify) → the run's webhook to the live server → ingest.
No Celery process: the stored callback is ingested here, as the worker's task would."""

from __future__ import annotations

import pytest

from businesses.models import ReviewItem
from businesses.services import business_register, team_upsert
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution, UnmatchedItem
from schedules.services.assignment import schedule_groups_init
from schedules.services.dispatch import dispatch_tick
from schedules.services.execution_start import execution_start
from schedules.services.ingest import webhook_event_ingest
from schedules.states import ExecutionState
from tests.conftest import place_id, register_google
from tests.fakes.apify_server import FakeApify
from webhooks.models import WebhookEvent, WebhookStatus

pytestmark = pytest.mark.django_db(transaction=True)


def review(place: str, review_id: str) -> dict:
    return {"placeId": place, "reviewId": review_id, "stars": 5, "text": "fine"}


def test_a_place_two_teams_track_is_scraped_once_for_both(
    fake_apify: FakeApify, live_server, settings
) -> None:
    settings.WEBHOOK_BASE_URL = live_server.url
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="professional")[0]  # same interval: one batch
    charlie = team_upsert(team_id="charlie", tier="free")[0]
    place = place_id()
    kinds = {"scrape_types": ["reviews"]}
    a_shared = business_register(team=alice, platform="google", external_id=place, **kinds)
    b_shared = business_register(team=bob, platform="google", external_id=place, **kinds)
    (a_own,) = register_google(alice, 1, **kinds)
    (outsider,) = register_google(charlie, 1, **kinds)  # another batch
    batch = a_shared.mappings.get().batch
    assert {b.mappings.get().batch_id for b in (b_shared, a_own)} == {batch.id}
    assert outsider.mappings.get().batch_id != batch.id
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())
    dispatch_tick()
    execution = Execution.objects.get(batch=batch)

    assert execution_start(execution_id=execution.id) == ExecutionState.RUNNING

    execution.refresh_from_db()
    assert {s["business_id"] for s in execution.business_snapshot} == {
        a_shared.id,
        b_shared.id,
        a_own.id,
    }
    (start,) = [r for r in fake_apify.requests if r.method == "POST" and r.path.endswith("/runs")]
    assert sorted(start.json["placeIds"]) == sorted([place, a_own.platform_key])
    assert fake_apify.runs[execution.apify_run_id].input == start.json

    items = [
        review(place, "shared-1"),
        review(place, "shared-2"),
        review(a_own.platform_key, "own-1"),
        review(outsider.platform_key, "stray"),  # a place outside the snapshot
    ]
    assert fake_apify.finish_run(execution.apify_run_id, "SUCCEEDED", items) == [202]
    event = WebhookEvent.objects.get(run_id=execution.apify_run_id)
    assert webhook_event_ingest(event_id=event.id) == WebhookStatus.PROCESSED

    stored = {(r.business_id, r.platform_item_id) for r in ReviewItem.objects.all()}
    assert stored == {
        (a_shared.id, "shared-1"),
        (a_shared.id, "shared-2"),
        (b_shared.id, "shared-1"),
        (b_shared.id, "shared-2"),
        (a_own.id, "own-1"),
    }
    assert not ReviewItem.objects.filter(business=outsider).exists()
    assert UnmatchedItem.objects.get().key == outsider.platform_key
    execution.refresh_from_db()
    assert execution.state == ExecutionState.SUCCEEDED
    assert (execution.items_count, execution.unmatched_count) == (4, 1)
