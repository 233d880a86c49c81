"""The callback storm, short form: deliveries of every run's terminal event, ~30 % duplicates,
wrong secrets and tampered bodies, shuffled and sent from several threads at once; then every
stored event is processed from several threads, each twice (a redelivered task), so ingests of
the same run race. Exactly one ingest per run, every bad delivery rejected, counts exact.

The long form (10,000 deliveries over 1,500 runs) is one command:
    STORM_DELIVERIES=10000 STORM_RUNS=1500 pytest tests/integration/test_callback_storm.py -s
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass

import pytest
import redis
from django.db.models import Sum
from django.test import Client

from businesses.models import ReviewItem
from businesses.services import team_upsert
from retry.models import RetryEntry
from schedules.models import Batch, Execution, OverlapPolicy, UnmatchedItem
from schedules.services import ingest as ingest_services
from schedules.services.assignment import schedule_groups_init
from schedules.services.batches import batch_trigger
from schedules.services.execution_start import execution_start
from schedules.services.ingest import webhook_event_ingest
from schedules.states import ExecutionState
from tests.concurrency import run_concurrently
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from webhooks.models import WebhookEvent, WebhookStatus

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

DELIVERIES = int(os.environ.get("STORM_DELIVERIES", 2_000))  # the long form: 10,000
# Running executions, each finished at the fake with ITEMS_PER_RUN reviews.
RUNS = int(os.environ.get("STORM_RUNS", 300))  # the long form: 1,500
ITEMS_PER_RUN = 3
UNKNOWN_RUNS = 10  # valid callbacks naming runs no execution has
DUPLICATE_SHARE = 0.30  # of all deliveries
SENDERS = 6  # concurrent delivery threads
PROCESSORS = 4  # concurrent processing threads
PROCESS_COPIES = 2  # each stored event is processed this many times (redelivered task)
assert PROCESSORS % PROCESS_COPIES == 0
SEED = 20261125

URL = "/api/v1/webhooks/apify/"
SECRET = "storm-webhook-secret-of-at-least-32-chars"
EVENT = "ACTOR.RUN.SUCCEEDED"

# Valid kinds are stored; every other kind must be refused with its code and store nothing.
FIRST, DUPLICATE, UNKNOWN_FIRST = "first", "duplicate", "unknown_run"
BAD_KINDS = {
    "wrong_secret": 401,
    "missing_secret": 401,
    "malformed_json": 400,
    "missing_resource_id": 400,
    "unknown_event_type": 400,
    "resource_not_object": 400,
}


@dataclass(frozen=True)
class Delivery:
    kind: str
    run_id: str
    body: str
    secret: str | None


def payload(run_id: str, event: str = EVENT) -> dict:
    return {
        "userId": "storm-user",
        "createdAt": "2026-11-25T10:00:00.000Z",
        "eventType": event,
        "eventData": {"actorId": "compass~google-maps-reviews-scraper", "actorRunId": run_id},
        "resource": {"id": run_id, "status": "SUCCEEDED", "defaultDatasetId": f"ds-{run_id}"},
    }


def bad_delivery(kind: str, run_id: str) -> Delivery:
    body = payload(run_id)
    secret: str | None = SECRET
    if kind == "wrong_secret":
        secret = SECRET[:-1] + "X"
    elif kind == "missing_secret":
        secret = None
    elif kind == "malformed_json":
        return Delivery(kind, run_id, json.dumps(body)[:-7], secret)
    elif kind == "missing_resource_id":
        del body["resource"]["id"]
    elif kind == "unknown_event_type":
        body["eventType"] = "ACTOR.RUN.EXPLODED"
    elif kind == "resource_not_object":
        body["resource"] = run_id
    return Delivery(kind, run_id, json.dumps(body), secret)


def review(place: str, review_id: str) -> dict:
    return {
        "placeId": place,
        "reviewId": review_id,
        "stars": 4,
        "text": "fine",
        "publishedAtDate": "2026-11-20T08:00:00.000Z",
    }


def start_running_executions(fake: FakeApify) -> dict[str, Execution]:
    """RUNS running executions over several teams and batches, each run finished at the fake
    (no webhook sent): run id → execution."""
    schedule_groups_init()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    dave = team_upsert(team_id="dave", tier="professional")[0]  # shares alice's batch
    bob = team_upsert(team_id="bob", tier="starter")[0]
    charlie = team_upsert(team_id="charlie", tier="free")[0]
    for team in (alice, dave, bob, charlie):
        register_google(team, 2, scrape_types=["reviews"])
    batches = list(Batch.objects.filter(business_count__gt=0).order_by("id"))
    assert len(batches) >= 3
    Batch.objects.filter(id__in=[b.id for b in batches]).update(
        overlap_policy=OverlapPolicy.ALLOW  # several runs of one batch may be in flight
    )
    ids = [batch_trigger(batch_id=batches[n % len(batches)].id).id for n in range(RUNS)]

    def start(index: int) -> list[str | None]:
        return [execution_start(execution_id=i) for i in ids[index::PROCESSORS]]

    # Admission takes the queue from its head: a processor may start another's execution.
    run_concurrently(start, PROCESSORS)
    states = Execution.objects.filter(id__in=ids).values_list("state", flat=True)
    assert list(states) == [ExecutionState.RUNNING] * RUNS

    executions = {e.apify_run_id: e for e in Execution.objects.filter(id__in=ids)}
    assert len(executions) == RUNS
    for n, (run_id, execution) in enumerate(sorted(executions.items())):
        keys = [entry["key"] for entry in execution.business_snapshot]
        items = [review(keys[k % len(keys)], f"run{n}-r{k}") for k in range(ITEMS_PER_RUN)]
        fake.finish_run(run_id, "SUCCEEDED", items, deliver_webhooks=False)
    return executions


def build_deliveries(run_ids: list[str], rng: random.Random) -> list[Delivery]:
    unknown = [f"NOSUCHRUN{n:08d}" for n in range(UNKNOWN_RUNS)]
    valid = [Delivery(FIRST, r, json.dumps(payload(r)), SECRET) for r in run_ids]
    valid += [Delivery(UNKNOWN_FIRST, r, json.dumps(payload(r)), SECRET) for r in unknown]
    duplicates = [
        Delivery(DUPLICATE, d.run_id, d.body, SECRET)
        for d in rng.choices(valid, k=round(DELIVERIES * DUPLICATE_SHARE))
    ]
    bad_count = DELIVERIES - len(valid) - len(duplicates)
    assert bad_count >= len(BAD_KINDS), "raise DELIVERIES or lower RUNS"
    kinds = list(BAD_KINDS)
    bad = [
        bad_delivery(kinds[n % len(kinds)], rng.choice(run_ids + unknown)) for n in range(bad_count)
    ]
    deliveries = valid + duplicates + bad
    rng.shuffle(deliveries)  # a "first" may well arrive after its duplicates
    assert len(deliveries) == DELIVERIES
    return deliveries


def send_all(deliveries: list[Delivery]) -> list[tuple[Delivery, int, dict]]:
    def send(index: int) -> list[tuple[Delivery, int, dict]]:
        client = Client()
        answers = []
        for delivery in deliveries[index::SENDERS]:
            headers = {} if delivery.secret is None else {"HTTP_X_WEBHOOK_SECRET": delivery.secret}
            response = client.post(
                URL, data=delivery.body, content_type="application/json", **headers
            )
            answers.append((delivery, response.status_code, response.json()))
        return answers

    return [answer for chunk in run_concurrently(send, SENDERS) for answer in chunk]


def test_a_callback_storm_ingests_each_run_exactly_once(
    settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    try:
        with FakeApify(token="storm-token") as fake:
            settings.APIFY_API_URL = fake.url
            settings.APIFY_TOKEN = "storm-token"
            settings.WEBHOOK_BASE_URL = "https://scheduler.example.test"
            settings.APIFY_WEBHOOK_SECRET = SECRET
            storm(fake, monkeypatch)
    finally:
        broker.flushdb()  # the start and process messages published on commit: no worker ran


def storm(fake: FakeApify, monkeypatch: pytest.MonkeyPatch) -> None:
    executions = start_running_executions(fake)
    rng = random.Random(SEED)
    deliveries = build_deliveries(sorted(executions), rng)

    began = time.perf_counter()
    answers = send_all(deliveries)
    elapsed = time.perf_counter() - began
    print(
        f"\n{DELIVERIES} deliveries from {SENDERS} threads in {elapsed:.2f} s: "
        f"{DELIVERIES / elapsed:.0f} deliveries/s"
    )

    # --- the answers -----------------------------------------------------------------------
    assert len(answers) == DELIVERIES
    by_run: dict[str, list[tuple[int, dict]]] = defaultdict(list)
    for delivery, code, body in answers:
        if delivery.kind in BAD_KINDS:
            assert code == BAD_KINDS[delivery.kind], (delivery.kind, code, body)
        else:
            assert code in (200, 202), (delivery.kind, code, body)
            by_run[delivery.run_id].append((code, body))
    valid_runs = {d.run_id for d in deliveries if d.kind in (FIRST, UNKNOWN_FIRST)}
    assert set(by_run) == valid_runs
    accepted_ids = {}
    for run_id, run_answers in by_run.items():
        codes = sorted(code for code, _ in run_answers)
        assert codes == [200] * (len(run_answers) - 1) + [202], (run_id, codes)
        (accepted,) = [body for code, body in run_answers if code == 202]
        assert accepted["status"] == "accepted"
        accepted_ids[run_id] = accepted["id"]
        assert all(body == {"status": "duplicate"} for code, body in run_answers if code == 200)

    # --- what was stored: the valid events once each, nothing of the rejected ones ---------
    events = {e.run_id: e for e in WebhookEvent.objects.all()}
    assert len(events) == WebhookEvent.objects.count() == len(valid_runs) == RUNS + UNKNOWN_RUNS
    assert set(events) == valid_runs
    assert {e.event_type for e in events.values()} == {EVENT}
    assert {r: e.id for r, e in events.items()} == accepted_ids
    assert {e.status for e in events.values()} == {WebhookStatus.RECEIVED}
    accepted_duplicates = sum(code == 200 for _, code, _ in answers)
    valid_deliveries = sum(d.kind not in BAD_KINDS for d in deliveries)
    assert accepted_duplicates == valid_deliveries - len(valid_runs)
    assert WebhookEvent.objects.aggregate(n=Sum("duplicates"))["n"] == accepted_duplicates
    for run_id, event in events.items():
        assert event.duplicates == len(by_run[run_id]) - 1
    assert not ReviewItem.objects.exists()  # receiving ingests nothing

    # --- processing: every event, PROCESS_COPIES times, from PROCESSORS threads ------------
    recorded: Counter = Counter()
    lost_races: Counter = Counter()
    lock = threading.Lock()
    real_record = ingest_services._record

    def counting_record(execution_id, *args, **kwargs):
        result = real_record(execution_id, *args, **kwargs)
        with lock:
            if result is not None:
                recorded[execution_id] += 1
            else:
                lost_races[execution_id] += 1  # got past the first check, lost at the lock
        return result

    monkeypatch.setattr(ingest_services, "_record", counting_record)
    # Threads i and i + groups process the same events in the same order: the copies of one
    # event run at about the same moment, so ingests of one run race for its row lock.
    order = [e.id for e in events.values()]
    rng.shuffle(order)
    groups = PROCESSORS // PROCESS_COPIES

    def process(index: int) -> list[tuple[int, str]]:
        return [(i, webhook_event_ingest(event_id=i)) for i in order[index % groups :: groups]]

    began = time.perf_counter()
    outcomes = [o for chunk in run_concurrently(process, PROCESSORS) for o in chunk]
    print(
        f"{len(outcomes)} processings from {PROCESSORS} threads in "
        f"{time.perf_counter() - began:.2f} s; {sum(lost_races.values())} ingests reached the "
        "row lock and found the run already finished"
    )
    assert len(outcomes) == len(order) * PROCESS_COPIES

    # --- exactly one ingest per run, counts exact -----------------------------------------
    known_ids = {events[r].id for r in executions}
    for event_id, status in outcomes:
        expected = WebhookStatus.PROCESSED if event_id in known_ids else WebhookStatus.UNKNOWN_RUN
        assert status == expected, (event_id, status)
    assert recorded == {e.id: 1 for e in executions.values()}
    for run_id, event in events.items():
        event.refresh_from_db()
        if run_id in executions:
            assert (event.status, event.execution_id) == (
                WebhookStatus.PROCESSED,
                executions[run_id].id,
            )
        else:
            assert (event.status, event.execution_id) == (WebhookStatus.UNKNOWN_RUN, None)
        assert event.processed_at is not None and event.error == ""

    finished = Execution.objects.filter(id__in=[e.id for e in executions.values()])
    assert finished.count() == RUNS
    for execution in finished:
        assert execution.state == ExecutionState.SUCCEEDED, (execution.id, execution.error)
        assert (
            execution.items_count,
            execution.attributed_count,
            execution.unmatched_count,
            execution.failed_count,
        ) == (ITEMS_PER_RUN, ITEMS_PER_RUN, 0, 0)
    per_execution = Counter(ReviewItem.objects.values_list("execution_id", flat=True))
    assert per_execution == {e.id: ITEMS_PER_RUN for e in executions.values()}
    assert ReviewItem.objects.count() == RUNS * ITEMS_PER_RUN
    assert not UnmatchedItem.objects.exists()
    assert not RetryEntry.objects.exists()
