"""A callback whose processing message was lost (broker restart, broker down when it came) is
enqueued again by the reconcile tick, instead of waiting for the run timeout."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import redis
from celery import current_app
from kombu import pools

from scheduler_project.dbclock import db_now
from schedules.models import Execution
from schedules.services.ingest import webhook_event_ingest
from schedules.services.reconcile import webhook_events_requeue_stale
from schedules.states import ExecutionState
from tests.schedules.helpers import make_batch
from tests.webhooks.test_endpoint import SECRET, payload, post
from webhooks.models import WebhookEvent, WebhookStatus
from webhooks.services import webhook_event_receive

QUEUE = "ingest"  # where process_webhook_event is routed


@pytest.fixture
def queued_event_ids(settings):
    """The event ids of the processing messages waiting in the real Redis ingest queue."""
    settings.APIFY_WEBHOOK_SECRET = SECRET
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(QUEUE)

    def read() -> list[int]:
        ids = []
        for raw in client.lrange(QUEUE, 0, -1):
            envelope = json.loads(raw)
            body = json.loads(base64.b64decode(envelope["body"]))
            ids.append(body[0][0])
        return sorted(ids)

    yield read
    client.delete(QUEUE)


def _received(run_id: str, *, age_seconds: int, **fields: object) -> WebhookEvent:
    """A stored callback (its processing message never published: the test's transaction
    never commits) received `age_seconds` ago."""
    delivery = webhook_event_receive(
        run_id=run_id, event_type="ACTOR.RUN.SUCCEEDED", payload=payload(run_id)
    )
    moment = db_now() - timedelta(seconds=age_seconds)
    WebhookEvent.objects.filter(id=delivery.event_id).update(
        received_at=moment, processed_at=moment, **fields
    )
    return WebhookEvent.objects.get(id=delivery.event_id)


def _execution(run_id: str, state: str, index: int) -> Execution:
    batch = make_batch(next_run_at=db_now(), index=index)
    return Execution.objects.create(
        batch=batch,
        platform="google",
        scrape_type="reviews",
        trigger="scheduled",
        scheduled_for=batch.next_run_at,
        state=state,
        apify_run_id=run_id,
    )


def test_only_callbacks_left_unprocessed_too_long_are_enqueued_again(
    db: None, settings, queued_event_ids
) -> None:
    settings.SCHEDULER_WEBHOOK_REQUEUE_SECONDS = 120
    lost = _received("RUNlost0000000001", age_seconds=300)
    _received("RUNfresh000000001", age_seconds=30)  # its message may still be queued
    _received("RUNdone0000000001", age_seconds=300, status=WebhookStatus.PROCESSED)
    _received("RUNunknown0000001", age_seconds=300, status=WebhookStatus.UNKNOWN_RUN)

    assert webhook_events_requeue_stale() == 1
    assert queued_event_ids() == [lost.id]


def test_a_failed_ingest_is_tried_again_and_settles_once_its_execution_finished(
    db: None, settings, queued_event_ids
) -> None:
    settings.SCHEDULER_WEBHOOK_REQUEUE_SECONDS = 120
    running = _execution("RUNrunning0000001", ExecutionState.RUNNING, index=0)
    finished = _execution("RUNfinished000001", ExecutionState.SUCCEEDED, index=1)
    cut_off = _received(
        running.apify_run_id, age_seconds=300, status=WebhookStatus.FAILED, execution=running
    )
    finished_elsewhere = _received(
        finished.apify_run_id, age_seconds=300, status=WebhookStatus.FAILED, execution=finished
    )
    _received("RUNrecent00000001", age_seconds=30, status=WebhookStatus.FAILED)

    assert webhook_events_requeue_stale() == 2
    assert queued_event_ids() == [cut_off.id, finished_elsewhere.id]

    # The second go finds the execution finished (by reconciliation, say): nothing to ingest,
    # and the callback no longer shows as failed.
    assert webhook_event_ingest(event_id=finished_elsewhere.id) == WebhookStatus.PROCESSED
    assert webhook_events_requeue_stale() == 1


def _fresh_connections(app) -> None:
    """Drop the app's connection and producer pools, so the next publish connects to the
    broker URL now configured (a closed producer pool left behind fails later tests)."""
    app.pool.force_close_all()
    app._pool = None
    app.amqp._producer_pool = None
    pools.reset()  # kombu's shared producer pools, keyed by connection


@pytest.mark.django_db(transaction=True)
def test_a_callback_arriving_while_the_broker_is_down_is_accepted_and_kept(settings) -> None:
    """Answering 5xx would only make Apify retry into a duplicate that enqueues nothing."""
    settings.APIFY_WEBHOOK_SECRET = SECRET
    app = current_app._get_current_object()
    real_url = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens there
    _fresh_connections(app)
    try:
        response = post(payload("RUNbrokerdown0001"))
    finally:
        app.conf.broker_url = real_url
        _fresh_connections(app)
    assert response.status_code == 202
    assert WebhookEvent.objects.get().status == WebhookStatus.RECEIVED
