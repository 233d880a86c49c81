"""The Apify fake, driven by the real apify-client 3.4.0 (no mocks, no database, no Django)."""

from __future__ import annotations

import base64
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from apify_client import ApifyClient
from apify_client.errors import (
    ApifyApiError,
    InvalidRequestError,
    NotFoundError,
    RateLimitError,
    ServerError,
    UnauthorizedError,
)

from tests.fakes.apify_server import FakeApify, RecordedRequest

ACTOR = "compass/google-maps-reviews-scraper"
RUNS_PATH = "/v2/actors/compass~google-maps-reviews-scraper/runs"


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # impit honours HTTP(S)_PROXY even for 127.0.0.1 (APIFY.md §1.3).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake() -> Iterator[FakeApify]:
    with FakeApify() as server:
        yield server


def make_client(fake: FakeApify, token: str = "test-token") -> ApifyClient:
    return ApifyClient(
        token, api_url=fake.url, max_retries=2, min_delay_between_retries=timedelta(milliseconds=5)
    )


@pytest.fixture
def client(fake: FakeApify) -> ApifyClient:
    return make_client(fake)


@dataclass
class Receiver:
    """A tiny webhook endpoint: records each POST and answers `status`."""

    url: str
    status: int = 200
    received: list[tuple[dict[str, str], Any]] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k.lower(): v for k, v in self.headers.items()}
            box.received.append((headers, json.loads(body)))
            self.send_response(box.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box = Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/apify/webhook?secret=abc")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


def raw(
    fake: FakeApify,
    method: str,
    path: str,
    token: str | None = "test-token",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    """A plain urllib call, for what apify-client cannot show (status codes, headers)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers["Content-Type"] = "application/json"
    request = urllib.request.Request(fake.url + path, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def run_starts(fake: FakeApify) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path == RUNS_PATH]


def test_a_big_input_is_gzipped_by_the_client_and_recorded_decoded(fake, client) -> None:
    run_input = {"placeIds": [f"ChIJ{i:030d}" for i in range(60)], "maxReviews": 50}
    assert len(json.dumps(run_input)) >= 1024

    run = client.actor(ACTOR).start(
        run_input=run_input, memory_mbytes=2048, run_timeout=timedelta(minutes=10)
    )

    (start,) = run_starts(fake)
    assert start.headers["content-encoding"] == "gzip"
    assert start.json == run_input
    assert start.query == {"memory": "2048", "timeout": "600"}
    assert start.headers["authorization"] == "Bearer test-token"
    assert run.status == "RUNNING"
    assert len(run.id) == 17 and run.id.isalnum()
    assert run.options.memory_mbytes == 2048 and run.options.timeout_secs == 600
    assert run.started_at.tzinfo is not None
    stored = fake.runs[run.id]
    assert (stored.actor_id, stored.input) == ("compass~google-maps-reviews-scraper", run_input)
    assert run.default_dataset_id == stored.dataset_id


def test_a_small_input_goes_plain_and_no_input_is_the_literal_null(fake, client) -> None:
    client.actor(ACTOR).start(run_input={"placeIds": ["p1"]})
    client.actor(ACTOR).start()

    small, empty = run_starts(fake)
    assert "content-encoding" not in small.headers
    assert small.json == {"placeIds": ["p1"]}
    assert (empty.body, empty.json) == (b"null", None)


def test_snake_case_webhooks_arrive_as_camel_case_base64(fake, client) -> None:
    client.actor(ACTOR).start(
        run_input={"placeIds": ["p1"]},
        webhooks=[
            {
                "event_types": ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
                "request_url": "https://scheduler.test/apify/webhook?secret=abc",
                "headers_template": '{"X-Webhook-Secret": "s3cret"}',
                "idempotency_key": "batch-42",
            }
        ],
    )

    (start,) = run_starts(fake)
    assert start.webhooks == json.loads(base64.b64decode(start.query["webhooks"]))
    assert start.webhooks == [
        {
            "eventTypes": ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
            "requestUrl": "https://scheduler.test/apify/webhook?secret=abc",
            "headersTemplate": '{"X-Webhook-Secret": "s3cret"}',
            "idempotencyKey": "batch-42",
        }
    ]
    assert next(iter(fake.runs.values())).webhooks == start.webhooks


def test_a_wrong_token_is_refused_with_401_and_not_retried(fake) -> None:
    with pytest.raises(UnauthorizedError) as caught:
        make_client(fake, token="wrong").actor(ACTOR).start(run_input={})

    assert caught.value.type == "token-not-valid"
    assert caught.value.status_code == 401
    assert len(fake.requests) == 1 and fake.runs == {}


def test_two_429s_are_retried_until_the_start_succeeds(fake, client) -> None:
    fake.fail_next(429, 2)

    run = client.actor(ACTOR).start(run_input={"placeIds": ["p1"]})

    assert len(run_starts(fake)) == 3
    assert list(fake.runs) == [run.id]


def test_5xx_is_retried_until_the_client_gives_up(fake, client) -> None:
    fake.fail_next(503, 3)

    with pytest.raises(ServerError):
        client.actor(ACTOR).start(run_input={})

    assert len(run_starts(fake)) == 3 and fake.runs == {}


def test_a_400_raises_at_once_without_retry(fake, client) -> None:
    fake.fail_next(400, error_type="invalid-input")

    with pytest.raises(InvalidRequestError) as caught:
        client.actor(ACTOR).start(run_input={})

    assert caught.value.type == "invalid-input"
    assert len(run_starts(fake)) == 1 and fake.runs == {}


def test_injected_429_with_no_retries_left_surfaces_as_rate_limit_error(fake) -> None:
    fake.fail_next(429)
    no_retry = ApifyClient("test-token", api_url=fake.url, max_retries=0)

    with pytest.raises(RateLimitError):
        no_retry.run("whatever").get()


def test_an_input_over_9_mb_decompressed_is_refused_with_413(fake, client) -> None:
    with pytest.raises(ApifyApiError) as caught:
        client.actor(ACTOR).start(run_input={"blob": "x" * 9_437_184})

    assert (caught.value.status_code, caught.value.type) == (413, "request-too-large")
    (start,) = run_starts(fake)
    assert start.headers["content-encoding"] == "gzip" and fake.runs == {}


def test_an_actor_id_without_tilde_is_not_found(fake, client) -> None:
    with pytest.raises(NotFoundError):
        client.actor("Xb8osYTtOjlsgI6k9").start(run_input={})


def test_a_memory_that_is_not_a_power_of_two_is_refused(fake, client) -> None:
    with pytest.raises(InvalidRequestError):
        client.actor(ACTOR).start(run_input={}, memory_mbytes=1000)


def test_get_returns_none_for_an_unknown_run_and_the_run_otherwise(fake, client) -> None:
    assert client.run("NoSuchRun00000000").get() is None

    started = client.actor(ACTOR).start(run_input={})
    fetched = client.run(started.id).get()

    assert fetched is not None and fetched.id == started.id and fetched.status == "RUNNING"
    assert fetched.finished_at is None and fetched.usage_total_usd is None


def test_abort_marks_the_run_aborted(fake, client) -> None:
    started = client.actor(ACTOR).start(run_input={})

    aborted = client.run(started.id).abort()

    assert aborted.status == "ABORTED" and aborted.finished_at is not None
    assert fake.runs[started.id].status == "ABORTED"


def test_finish_run_sets_cost_fields_and_2500_items_iterate_in_order(fake, client) -> None:
    run = client.actor(ACTOR).start(run_input={})
    items = [{"reviewId": f"r{i}", "placeId": "p1"} for i in range(2500)]

    assert fake.finish_run(run.id, items=items) == []  # no webhooks on this run

    finished = client.run(run.id).get()
    assert finished is not None and finished.status == "SUCCEEDED"
    assert finished.finished_at is not None and finished.finished_at.tzinfo is not None
    assert finished.usage_total_usd is not None and finished.stats.compute_units is not None
    assert list(client.dataset(run.default_dataset_id).iterate_items()) == items
    pages = [r.query for r in fake.requests if r.path.endswith("/items")]
    assert [p["offset"] for p in pages] == ["0", "1000", "2000", "2500"]


def test_list_items_honours_offset_limit_desc_and_answers_empty_past_the_end(fake, client):
    run = client.actor(ACTOR).start(run_input={})
    fake.finish_run(run.id, items=[{"n": n} for n in range(5)])
    dataset = client.dataset(run.default_dataset_id)

    page = dataset.list_items(offset=1, limit=2, desc=True)
    assert page.items == [{"n": 3}, {"n": 2}]
    assert (page.total, page.offset, page.count, page.limit, page.desc) == (5, 1, 2, 2, True)
    everything = dataset.list_items()
    assert (len(everything.items), everything.limit) == (5, 999_999_999_999)
    past_end = dataset.list_items(offset=5)
    assert (past_end.items, past_end.count) == ([], 0)
    assert client.run(run.id).dataset().list_items(limit=1).items == [{"n": 0}]


def test_an_unknown_dataset_is_not_found(fake, client) -> None:
    with pytest.raises(NotFoundError):
        client.dataset("NoSuchDataset0000").list_items()


def test_finish_run_delivers_the_webhook_with_the_secret_header(fake, client, receiver):
    run = client.actor(ACTOR).start(
        run_input={"placeIds": ["p1"]},
        webhooks=[
            {
                "event_types": ["ACTOR.RUN.SUCCEEDED", "ACTOR.RUN.FAILED"],
                "request_url": receiver.url,
                "headers_template": json.dumps(
                    {"X-Webhook-Secret": "s3cret", "Content-Type": "text/plain"}
                ),
            }
        ],
    )

    assert fake.finish_run(run.id, items=[{"placeId": "p1"}]) == [200]

    ((headers, payload),) = receiver.received
    assert headers["x-webhook-secret"] == "s3cret"
    assert headers["content-type"] == "application/json"  # the platform's header wins
    assert headers["x-apify-webhook"] == fake.runs[run.id].webhook_ids[0]
    assert len(headers["x-apify-webhook-dispatch-id"]) == 17
    assert payload["eventType"] == "ACTOR.RUN.SUCCEEDED"
    assert payload["userId"] == fake.user_id and payload["createdAt"].endswith("Z")
    assert payload["eventData"] == {"actorId": run.act_id, "actorRunId": run.id}
    assert payload["resource"]["id"] == run.id
    assert payload["resource"]["status"] == "SUCCEEDED"
    assert payload["resource"]["defaultDatasetId"] == run.default_dataset_id

    assert fake.deliver_webhooks(run.id) == [200]  # a duplicate delivery, new dispatch id
    assert (
        receiver.received[1][0]["x-apify-webhook-dispatch-id"]
        != (headers["x-apify-webhook-dispatch-id"])
    )


def test_webhooks_fire_only_for_subscribed_events_and_report_failures(fake, client, receiver):
    hooks = [
        {"event_types": ["ACTOR.RUN.SUCCEEDED"], "request_url": receiver.url},
        {"event_types": ["ACTOR.RUN.TIMED_OUT"], "request_url": receiver.url},
        {"event_types": ["ACTOR.RUN.TIMED_OUT"], "request_url": "http://127.0.0.1:9/down"},
    ]
    run = client.actor(ACTOR).start(run_input={}, webhooks=hooks)
    receiver.status = 500

    assert fake.finish_run(run.id, "TIMED-OUT") == [500, 0]

    ((_, payload),) = receiver.received
    assert payload["eventType"] == "ACTOR.RUN.TIMED_OUT"
    assert payload["resource"]["status"] == "TIMED-OUT"


def test_a_payload_template_is_rendered(fake, client, receiver) -> None:
    template = '{"runId": {{resource.id}}, "event": {{eventType}}}'
    run = client.actor(ACTOR).start(
        run_input={},
        webhooks=[
            {
                "event_types": ["ACTOR.RUN.FAILED"],
                "request_url": receiver.url,
                "payload_template": template,
            }
        ],
    )

    assert fake.finish_run(run.id, "FAILED", deliver_webhooks=True) == [200]
    assert receiver.received[0][1] == {"runId": run.id, "event": "ACTOR.RUN.FAILED"}


def test_finish_run_refuses_a_non_terminal_status(fake, client) -> None:
    run = client.actor(ACTOR).start(run_input={})

    with pytest.raises(ValueError, match="RUNNING"):
        fake.finish_run(run.id, "RUNNING")


def test_raw_http_201_location_acts_alias_unknown_routes_and_missing_token(fake) -> None:
    status, headers, body = raw(
        fake, "POST", "/v2/acts/apify~facebook-reviews-scraper/runs", body=b'{"startUrls": []}'
    )
    assert status == 201
    assert headers["Location"] == f"{fake.url}/v2/actor-runs/{body['data']['id']}"
    assert fake.runs[body["data"]["id"]].actor_id == "apify~facebook-reviews-scraper"

    status, _, body = raw(fake, "GET", "/v2/actors/compass~x")
    assert status == 404 and body["error"]["type"] == "page-not-found"
    status, _, body = raw(fake, "GET", "/v2/actor-runs/x", token=None)
    assert status == 401 and body["error"]["type"] == "token-not-valid"
    status, _, body = raw(fake, "POST", RUNS_PATH, body=b"{not json")
    assert status == 400 and body["error"]["type"] == "invalid-input"
    status, _, body = raw(fake, "POST", RUNS_PATH + "?webhooks=bm90IGpzb24%3D")
    assert status == 400 and body["error"]["type"] == "invalid-parameter"
    assert len(fake.requests) == 5 and len(fake.runs) == 1  # refused requests are recorded too


def test_wait_for_requests_returns_matches_or_says_what_arrived(fake, client) -> None:
    client.run("NoSuchRun00000000").get()

    found = fake.wait_for_requests(lambda r: r.path.startswith("/v2/actor-runs/"), timeout=1)
    assert [r.method for r in found] == ["GET"]
    with pytest.raises(AssertionError, match="GET /v2/actor-runs/NoSuchRun00000000"):
        fake.wait_for_requests(lambda r: r.method == "DELETE", timeout=0.1)


def test_stop_without_start_does_not_hang() -> None:
    FakeApify().stop()
