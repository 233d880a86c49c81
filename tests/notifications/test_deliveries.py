"""Product webhooks end to end in one process: an ingest writes the events, the sender signs
and POSTs them to a real local receiver, which verifies them with the standardwebhooks
library; failures retry under the same webhook-id; replays; an endpoint failing for days
is switched off with an alert."""

from __future__ import annotations

from datetime import timedelta

from standardwebhooks.webhooks import Webhook

from businesses.models import Team
from notifications.models import Alert, Delivery, DeliveryAttempt, DeliveryState, WebhookEndpoint
from notifications.services.delivery import deliveries_send_due, delivery_replay
from notifications.services.endpoints import endpoint_create, endpoint_rotate_secret
from notifications.services.events import Event, events_publish
from retry.services import retry_entries_record
from scheduler_project.dbclock import db_now
from schedules.models import Execution
from schedules.services.execution_start import execution_start
from schedules.services.executions import execution_build
from schedules.services.ingest import execution_ingest
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.notifications.receiver import Received, Receiver


def _verified(secret: str, request: Received) -> dict:
    """What the product's receiver does: verify, then read (raises on a bad signature)."""
    return Webhook(secret).verify(request.body, request.headers)


def _scrape(fake: FakeApify, businesses: list) -> Execution:
    """One run over `businesses` (any teams), ingested, each with one new review."""
    snapshot = [
        {
            "business_id": b.id,
            "team_id": b.team_id,
            "external_id": b.external_id,
            "key": b.platform_key,
        }
        for b in businesses
    ]
    execution = execution_build(
        trigger="manual", now=db_now(), platform="google", scrape_type="reviews", snapshot=snapshot
    )
    execution.save()
    assert execution_start(execution_id=execution.id) == "running"
    execution.refresh_from_db()
    items = [{"placeId": b.platform_key, "reviewId": f"r-{b.id}"} for b in businesses]
    fake.finish_run(execution.apify_run_id, items=items, deliver_webhooks=False)
    assert execution_ingest(execution_id=execution.id).state == "succeeded"
    return execution


def test_a_scrape_signals_each_business_of_the_subscribing_team_only(
    fake_apify: FakeApify, receiver: Receiver, alice: Team, bob: Team
) -> None:
    endpoint, secret = endpoint_create(
        url=receiver.url(), events=["business.scraped"], team_id="alice"
    )
    alices, bobs = register_google(alice, 2), register_google(bob, 1)

    execution = _scrape(fake_apify, [*alices, *bobs])
    assert deliveries_send_due() == 2

    events = [_verified(secret, r) for r in receiver.requests]
    assert sorted(e["data"]["business_id"] for e in events) == sorted(b.id for b in alices)
    for event in events:
        assert event["type"] == "business.scraped"
        assert event["data"]["team_id"] == "alice"
        assert event["data"]["new_item_count"] == 1
        assert event["data"]["execution_id"] == str(execution.id)
        assert event["data"]["scrape_type"] == "reviews" and event["data"]["platform"] == "google"
    assert set(Delivery.objects.values_list("state", flat=True)) == {DeliveryState.SUCCEEDED}
    assert endpoint.id  # bob's business produced no delivery at all
    assert not Delivery.objects.filter(team_id="bob").exists()


def test_an_unbound_endpoint_hears_every_team(
    fake_apify: FakeApify, receiver: Receiver, alice: Team, bob: Team
) -> None:
    _, secret = endpoint_create(url=receiver.url(), events=["business.scraped"])
    _scrape(fake_apify, [*register_google(alice, 1), *register_google(bob, 1)])
    deliveries_send_due()
    assert {_verified(secret, r)["data"]["team_id"] for r in receiver.requests} == {"alice", "bob"}


def test_a_500_is_retried_with_the_same_webhook_id_and_a_replay_sends_it_again(
    receiver: Receiver, alice: Team
) -> None:
    _, secret = endpoint_create(url=receiver.url(), events=["business.failed"])
    events_publish([Event("business.failed", "alice", {"business_id": 1})])
    receiver.answer(500)

    assert deliveries_send_due() == 1
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.PENDING and delivery.last_status_code == 500
    assert delivery.next_attempt_at > db_now() + timedelta(seconds=3)  # backs off
    assert deliveries_send_due() == 0  # not due yet
    Delivery.objects.update(next_attempt_at=db_now())
    assert deliveries_send_due() == 1

    first, second = receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == delivery.msg_id
    assert _verified(secret, second)["data"] == {"business_id": 1}
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 2
    codes = list(DeliveryAttempt.objects.order_by("id").values_list("status_code", flat=True))
    assert codes == [500, 200]

    delivery_replay(delivery=delivery, actor="op")
    assert deliveries_send_due() == 1
    assert receiver.requests[2].headers["webhook-id"] == delivery.msg_id


def test_during_a_rotation_both_secrets_verify(receiver: Receiver, alice: Team) -> None:
    endpoint, old = endpoint_create(url=receiver.url(), events=["business.failed"])
    new = endpoint_rotate_secret(endpoint=endpoint, actor="op")
    events_publish([Event("business.failed", "alice", {"business_id": 2})])
    deliveries_send_due()
    (request,) = receiver.requests
    assert _verified(old, request) == _verified(new, request)


def test_retries_give_up_after_the_schedule_and_a_days_long_failure_disables(
    receiver: Receiver, alice: Team, settings
) -> None:
    settings.SCHEDULER_WEBHOOK_RETRY_SECONDS = (1, 1)
    endpoint, _ = endpoint_create(url=receiver.url(), events=["business.failed"])
    events_publish([Event("business.failed", "alice", {"business_id": 3})])
    receiver.answer(503, 503, 503)
    for _ in range(3):
        Delivery.objects.update(next_attempt_at=db_now())
        deliveries_send_due()
    delivery = Delivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and delivery.attempts == 3

    WebhookEndpoint.objects.update(failing_since=db_now() - timedelta(days=6))
    events_publish([Event("business.failed", "alice", {"business_id": 4})])
    receiver.answer(503)
    deliveries_send_due()
    endpoint.refresh_from_db()
    assert not endpoint.enabled and "failed for 5 days" in endpoint.disabled_reason
    alert = Alert.objects.get(key=f"webhook-endpoint:{endpoint.id}")
    assert alert.status == "critical" and receiver.url() in alert.title
    events_publish([Event("business.failed", "alice", {"business_id": 5})])
    assert Delivery.objects.count() == 2  # a disabled endpoint gets no new deliveries


def test_a_business_whose_retries_are_exhausted_signals_business_failed(
    receiver: Receiver, alice: Team, bob: Team, settings
) -> None:
    settings.SCHEDULER_RETRY_MAX_ATTEMPTS = 0  # the first failure is the last
    _, secret = endpoint_create(url=receiver.url(), events=["business.failed"], team_id="alice")
    (mine,), (theirs,) = register_google(alice, 1), register_google(bob, 1)
    snapshot = [
        {
            "business_id": b.id,
            "team_id": b.team_id,
            "external_id": b.external_id,
            "key": b.platform_key,
        }
        for b in (mine, theirs)
    ]
    execution = execution_build(
        trigger="manual", now=db_now(), platform="google", scrape_type="reviews", snapshot=snapshot
    )
    execution.save()

    retry_entries_record(
        execution=execution,
        succeeded=[],
        failed={mine.id: "actor crashed", theirs.id: "actor crashed"},
    )
    deliveries_send_due()

    (request,) = receiver.requests
    event = _verified(secret, request)
    assert event["type"] == "business.failed"
    assert event["data"]["business_id"] == mine.id and event["data"]["error"] == "actor crashed"
