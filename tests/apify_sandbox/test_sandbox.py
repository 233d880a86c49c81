"""The Apify sandbox's run life and webhooks, driven by the real apify-client (no database)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from apify_client import ApifyClient
from apify_client.errors import ApifyApiError, NotFoundError, RateLimitError, UnauthorizedError

from apify_sandbox.server import Sandbox
from businesses.platforms import PLATFORMS, Target
from schedules.apify import WEBHOOK_EVENT_TYPES, actor_run_start
from tests.apify_sandbox.conftest import TOKEN, Receiver, client_for

GOOGLE = PLATFORMS["google"]
ACTOR = "compass/google-maps-reviews-scraper"
PLACES = [f"ChIJsandbox{n:017d}" for n in range(1, 4)]
TARGETS = [Target(business_id=n, external_id=p, key=p) for n, p in enumerate(PLACES, 1)]


def reviews_input() -> dict:
    return GOOGLE.batch_input("reviews", TARGETS)


def hook(receiver: Receiver, **extra: object) -> dict:
    return {
        "event_types": list(WEBHOOK_EVENT_TYPES),
        "request_url": receiver.url,
        "headers_template": json.dumps({"X-Webhook-Secret": "s3cret"}),
        **extra,
    }


def wait_finished(sandbox: Sandbox, run_id: str, timeout: float = 5.0):
    """Poll `run(id).get()` like a scheduler without webhooks would."""
    client, deadline = client_for(sandbox), time.monotonic() + timeout
    while (run := client.run(run_id).get()).status == "RUNNING":
        assert time.monotonic() < deadline, f"run {run_id} still RUNNING after {timeout}s"
        time.sleep(0.02)
    return run


def test_a_google_reviews_run_finishes_by_itself_with_items_of_its_places(sandbox_factory):
    sandbox = sandbox_factory(delay=0.2)
    client = client_for(sandbox)

    started = client.actor(ACTOR).start(run_input=reviews_input())
    assert started.status == "RUNNING" and started.finished_at is None
    run = wait_finished(sandbox, started.id)

    assert run.status == "SUCCEEDED"
    assert run.finished_at is not None and run.finished_at > run.started_at
    assert run.usage_total_usd is not None and run.usage_total_usd > 0
    assert run.stats.compute_units is not None and run.stats.compute_units > 0
    items = list(client.dataset(run.default_dataset_id).iterate_items())
    assert items and items == client.run(run.id).dataset().list_items().items
    assert {GOOGLE.item_key(item) for item in items} <= set(PLACES)
    for item in items:
        assert item["reviewId"] and 1 <= item["stars"] <= 5 and item["text"]
        assert item["publishedAtDate"].endswith("Z") and item["name"] and item["title"]
    cap = reviews_input()["maxReviews"]
    assert all(sum(GOOGLE.item_key(i) == p for i in items) <= cap for p in PLACES)


def test_the_same_seed_and_input_give_the_same_items_and_another_seed_does_not(
    sandbox_factory,
):
    def scrape(seed: int) -> list[dict]:
        sandbox = sandbox_factory(delay=0, seed=seed)
        run = client_for(sandbox).actor(ACTOR).start(run_input=reviews_input())
        wait_finished(sandbox, run.id)
        return client_for(sandbox).dataset(run.default_dataset_id).list_items().items

    first = scrape(seed=7)
    assert first and scrape(seed=7) == first
    assert scrape(seed=8) != first


def test_the_webhook_of_the_scheduler_arrives_with_its_secret_header(
    sandbox_factory, receiver, settings
):
    sandbox = sandbox_factory()
    settings.APIFY_API_URL, settings.APIFY_TOKEN = sandbox.url, TOKEN
    settings.WEBHOOK_BASE_URL = receiver.url.removesuffix("/api/v1/webhooks/apify/")
    settings.APIFY_WEBHOOK_SECRET = "s3cret-from-settings"

    started = actor_run_start(
        actor_id=ACTOR, run_input=reviews_input(), idempotency_key="e-1", memory_mbytes=1024
    )

    ((headers, payload),) = receiver.wait_for(1)
    run = sandbox.runs[started.run_id]
    assert headers["x-webhook-secret"] == "s3cret-from-settings"
    assert headers["content-type"] == "application/json"
    assert headers["x-apify-webhook"] == run.webhook_ids[0]
    assert len(headers["x-apify-webhook-dispatch-id"]) == 17
    assert payload["eventType"] == "ACTOR.RUN.SUCCEEDED"
    assert payload["userId"] == sandbox.user_id and payload["createdAt"].endswith("Z")
    assert payload["eventData"] == {"actorId": run.act_id, "actorRunId": started.run_id}
    assert payload["resource"]["status"] == "SUCCEEDED"
    assert payload["resource"]["defaultDatasetId"] == started.dataset_id
    assert payload["resource"]["usageTotalUsd"] > 0
    assert (sandbox.wait_until_idle(), len(receiver.settle())) == (True, 1)


def test_a_duplicate_rate_of_1_delivers_every_webhook_twice(sandbox_factory, receiver):
    sandbox = sandbox_factory(duplicate_webhook_rate=1.0)
    client_for(sandbox).actor(ACTOR).start(run_input=reviews_input(), webhooks=[hook(receiver)])

    (first, second) = receiver.wait_for(2)
    assert sandbox.wait_until_idle() and len(receiver.settle()) == 2
    assert first[1] == second[1]  # the same payload...
    assert (  # ...under another dispatch id, so only (run id, event) can deduplicate
        first[0]["x-apify-webhook-dispatch-id"] != second[0]["x-apify-webhook-dispatch-id"]
    )
    assert [d.duplicate for d in sandbox.deliveries] == [False, True]


def test_a_lost_rate_of_1_never_delivers(sandbox_factory, receiver):
    sandbox = sandbox_factory(delay=0, lost_webhook_rate=1.0)
    run = (
        client_for(sandbox).actor(ACTOR).start(run_input=reviews_input(), webhooks=[hook(receiver)])
    )

    assert wait_finished(sandbox, run.id).status == "SUCCEEDED"
    assert sandbox.wait_until_idle()
    assert receiver.settle() == []
    ((delivery),) = sandbox.deliveries
    assert delivery.lost and delivery.statuses == []


def test_a_failure_rate_of_1_fails_the_run_and_calls_back_with_the_failed_event(
    sandbox_factory, receiver
):
    sandbox = sandbox_factory(failure_rate=1.0)
    client = client_for(sandbox)
    started = client.actor(ACTOR).start(run_input=reviews_input(), webhooks=[hook(receiver)])

    ((headers, payload),) = receiver.wait_for(1)
    assert headers["x-webhook-secret"] == "s3cret"
    assert payload["eventType"] == "ACTOR.RUN.FAILED"
    assert payload["resource"]["status"] == "FAILED"
    run = client.run(started.id).get()
    assert run.status == "FAILED" and run.exit_code == 1 and "failure" in run.status_message


def test_rate_limited_requests_are_retried_by_the_client(sandbox_factory):
    sandbox = sandbox_factory(delay=0, rate_limit_rate=0.5, seed=3)
    client = client_for(sandbox, max_retries=10)

    started = client.actor(ACTOR).start(run_input=reviews_input())
    run = client.run(started.id).wait_for_finish()
    items = client.dataset(started.default_dataset_id).list_items().items

    assert run.status == "SUCCEEDED" and items
    assert sandbox.rate_limited > 0  # some answers were 429s, and the client got through


def test_a_rate_limit_of_1_surfaces_when_the_retries_run_out(sandbox_factory):
    sandbox = sandbox_factory(rate_limit_rate=1.0)

    with pytest.raises(RateLimitError) as caught:
        client_for(sandbox, max_retries=1).actor(ACTOR).start(run_input=reviews_input())

    assert caught.value.type == "rate-limit-exceeded"
    assert sandbox.rate_limited == 2 and sandbox.runs == {}


def test_abort_ends_the_run_and_sends_the_aborted_event(sandbox_factory, receiver):
    sandbox = sandbox_factory(delay=30)
    client = client_for(sandbox)
    started = client.actor(ACTOR).start(run_input=reviews_input(), webhooks=[hook(receiver)])

    assert client.run(started.id).abort().status == "ABORTED"

    ((_, payload),) = receiver.wait_for(1)
    assert payload["eventType"] == "ACTOR.RUN.ABORTED"
    assert sandbox.wait_until_idle(timeout=2)  # the finish timer is gone
    assert client.run(started.id).get().status == "ABORTED"


def test_failed_deliveries_are_retried_then_given_up(sandbox_factory, receiver):
    sandbox = sandbox_factory()
    receiver.statuses = [500, 503]
    dead = {**hook(receiver), "request_url": "http://127.0.0.1:9/nothing-listens"}
    client_for(sandbox).actor(ACTOR).start(
        run_input=reviews_input(), webhooks=[hook(receiver), dead]
    )

    assert sandbox.wait_until_idle()
    by_url = {d.dispatch.url: d.statuses for d in sandbox.deliveries}
    assert by_url == {receiver.url: [500, 503, 200], dead["request_url"]: [0, 0, 0, 0]}
    assert len(receiver.received) == 3


def test_a_run_whose_timeout_is_shorter_than_the_delay_times_out(sandbox_factory, receiver):
    sandbox = sandbox_factory(delay=30)
    client = client_for(sandbox)
    started = client.actor(ACTOR).start(
        run_input=reviews_input(), run_timeout=timedelta(seconds=1), webhooks=[hook(receiver)]
    )

    ((_, payload),) = receiver.wait_for(1, timeout=5)
    assert payload["eventType"] == "ACTOR.RUN.TIMED_OUT"
    assert client.run(started.id).get().status == "TIMED-OUT"


def test_the_sandbox_is_as_strict_as_the_fake(sandbox_factory):
    sandbox = sandbox_factory()

    with pytest.raises(UnauthorizedError):
        ApifyClient("wrong", api_url=sandbox.url, max_retries=0).actor(ACTOR).start()
    with pytest.raises(NotFoundError):  # "user/name" must travel as "user~name"
        client_for(sandbox).actor("Xb8osYTtOjlsgI6k9").start(run_input={})
    assert sandbox.runs == {}


def test_the_sandbox_account_is_a_small_plan_by_default(sandbox_factory):
    account = client_for(sandbox_factory()).user().limits()

    assert account.limits.max_actor_memory_gbytes == 32.0
    assert account.limits.max_concurrent_actor_jobs == 32
    assert account.limits.max_monthly_usage_usd == 1000.0
    assert account.current.active_actor_job_count == 0


def test_the_sandbox_refuses_starts_beyond_its_limits_until_runs_end(sandbox_factory):
    logged: list[str] = []
    sandbox = sandbox_factory(
        delay=0.3, max_memory_mbytes=2048, max_concurrent_runs=1, log=logged.append
    )
    client = client_for(sandbox)
    first = client.actor(ACTOR).start(run_input=reviews_input(), memory_mbytes=1024)

    with pytest.raises(ApifyApiError) as memory:
        client.actor(ACTOR).start(run_input=reviews_input(), memory_mbytes=2048)
    with pytest.raises(ApifyApiError) as concurrency:
        client.actor(ACTOR).start(run_input=reviews_input(), memory_mbytes=1024)
    current = client.user().limits().current

    assert memory.value.status_code == concurrency.value.status_code == 402
    assert memory.value.type == "actor-memory-limit-exceeded"
    assert concurrency.value.type == "concurrent-runs-limit-exceeded"
    assert (current.actor_memory_gbytes, current.active_actor_job_count) == (1.0, 1)
    assert any("402 concurrent-runs-limit-exceeded" in line for line in logged)
    assert wait_finished(sandbox, first.id).status == "SUCCEEDED"  # its memory is freed
    second = client.actor(ACTOR).start(run_input=reviews_input(), memory_mbytes=2048)
    assert second.status == "RUNNING"
    assert sandbox.peak_memory_mbytes == 2048 and sandbox.peak_runs == 1
    assert client.user().limits().current.monthly_usage_usd > 0  # the first run was billed
