"""End to end on real parts: beat → dispatch → worker → apify-client → fake Apify → webhook
to the live server → worker ingest → reviews on their own businesses only."""

from __future__ import annotations

import pytest

from businesses.models import ReviewItem
from businesses.services import team_upsert
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Execution, UnmatchedItem
from schedules.services.assignment import schedule_groups_init
from schedules.services.system_schedules import system_periodic_tasks_ensure
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.integration.conftest import CeleryStack, wait_for
from webhooks.models import WebhookEvent

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def review(place: str, review_id: str) -> dict:
    return {"placeId": place, "reviewId": review_id, "stars": 4, "text": "fine"}


def test_reviews_reach_their_own_business_through_the_whole_loop(
    fake: FakeApify,
    celery_stack: CeleryStack,
    live_server,
    settings,
) -> None:
    settings.WEBHOOK_BASE_URL = celery_stack.env["WEBHOOK_BASE_URL"] = live_server.url
    schedule_groups_init()
    system_periodic_tasks_ensure()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    bob = team_upsert(team_id="bob", tier="professional")[0]
    charlie = team_upsert(team_id="charlie", tier="free")[0]
    a1, a2 = register_google(alice, 2, scrape_types=["reviews"])
    (b1,) = register_google(bob, 1, scrape_types=["reviews"])
    (outsider,) = register_google(charlie, 1, scrape_types=["reviews"])
    batch = a1.mappings.get().batch
    assert b1.mappings.get().batch_id == batch.id != outsider.mappings.get().batch_id
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())

    celery_stack.start()
    try:
        wait_for(lambda: Execution.objects.filter(batch=batch, state="running").exists(), 90)
        execution = Execution.objects.get(batch=batch)
        items = [
            review(a1.platform_key, "a1-1"),
            review(a1.platform_key, "a1-2"),
            review(a2.platform_key, "a2-1"),
            review(b1.platform_key, "b1-1"),
            review(outsider.platform_key, "stolen"),
        ]
        codes = fake.finish_run(execution.apify_run_id, "SUCCEEDED", items)
        assert codes == [202]
        for _ in range(9):  # Apify delivers at least once: nine more of the same
            assert fake.deliver_webhooks(execution.apify_run_id) == [200]
        wait_for(lambda: Execution.objects.filter(id=execution.id, state="succeeded").exists())
    except AssertionError:
        print(celery_stack.dump_logs())
        raise

    stored = {(r.business_id, r.platform_item_id) for r in ReviewItem.objects.all()}
    assert stored == {(a1.id, "a1-1"), (a1.id, "a1-2"), (a2.id, "a2-1"), (b1.id, "b1-1")}
    assert UnmatchedItem.objects.get().key == outsider.platform_key
    event = WebhookEvent.objects.get()
    assert (event.status, event.duplicates) == ("processed", 9)
    execution.refresh_from_db()
    assert (execution.items_count, execution.attributed_count, execution.unmatched_count) == (
        5,
        4,
        1,
    )
