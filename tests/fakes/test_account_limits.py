"""The account model of the strict core (limits, live usage, real 402 refusals), driven by the
real apify-client 3.4.0 against the fake: no mocks, no database."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from apify_client import ApifyClient
from apify_client._models import CurrentUsage, Limits, UsageCycle
from apify_client.errors import ApifyApiError, InvalidRequestError, RateLimitError, ServerError

from tests.fakes.apify_server import FakeApify

ACTOR = "compass/google-maps-reviews-scraper"
RUNS_PATH = "/v2/actors/compass~google-maps-reviews-scraper/runs"
BILLING = "https://console.apify.com/billing/subscription"


@pytest.fixture(autouse=True)
def _no_proxy_for_localhost(monkeypatch: pytest.MonkeyPatch) -> None:
    # impit honours HTTP(S)_PROXY even for 127.0.0.1 (APIFY.md §1.3).
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def make_fake() -> Iterator[object]:
    """Build started fakes with the given account limits; all are stopped after the test."""
    started: list[FakeApify] = []

    def make(**limits: float) -> FakeApify:
        fake = FakeApify(**limits).start()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.stop()


def client_for(fake: FakeApify, max_retries: int = 2) -> ApifyClient:
    return ApifyClient(
        fake.token,
        api_url=fake.url,
        max_retries=max_retries,
        min_delay_between_retries=timedelta(milliseconds=5),
    )


def start(fake: FakeApify, memory: int = 1024, retries: int = 2):
    return client_for(fake, retries).actor(ACTOR).start(run_input={}, memory_mbytes=memory)


def refusal(fake: FakeApify, memory: int = 1024) -> ApifyApiError:
    with pytest.raises(ApifyApiError) as caught:
        start(fake, memory)
    assert caught.value.status_code == 402
    return caught.value


def raw_limits(fake: FakeApify) -> dict:
    request = urllib.request.Request(
        fake.url + "/v2/users/me/limits", headers={"Authorization": f"Bearer {fake.token}"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def required_aliases(model: type) -> set[str]:
    return {field.alias for field in model.model_fields.values() if field.is_required()}


def test_limits_have_every_field_the_client_requires_and_parse(make_fake) -> None:
    fake = make_fake(max_memory_mbytes=32768, max_concurrent_runs=32, max_monthly_usage_usd=500)

    account = client_for(fake).user().limits()

    assert account.limits.max_actor_memory_gbytes == 32.0
    assert account.limits.max_concurrent_actor_jobs == 32
    assert account.limits.max_monthly_usage_usd == 500
    assert account.current.actor_memory_gbytes == 0.0
    assert account.current.active_actor_job_count == 0
    assert account.current.monthly_usage_usd == 0.0
    cycle = account.monthly_usage_cycle
    assert cycle.start_at <= datetime.now(UTC) <= cycle.end_at
    assert (cycle.start_at.day, cycle.end_at.microsecond) == (1, 999000)
    data = raw_limits(fake)["data"]
    assert required_aliases(UsageCycle) <= set(data["monthlyUsageCycle"])
    assert required_aliases(Limits) <= set(data["limits"])
    assert required_aliases(CurrentUsage) <= set(data["current"])
    assert client_for(fake).user().get().id == fake.user_id  # GET /v2/users/me


def test_usage_counts_live_runs_and_frees_them_on_finish_and_abort(make_fake) -> None:
    fake = make_fake()
    client = client_for(fake)
    first, second = start(fake, 1024), start(fake, 2048)

    current = client.user().limits().current
    assert (current.actor_memory_gbytes, current.active_actor_job_count) == (3.0, 2)
    assert current.actor_count == 1

    fake.finish_run(first.id, items=[{"n": 1}])
    assert (fake.usage().memory_mbytes, fake.usage().runs) == (2048, 1)
    client.run(second.id).abort()
    current = client.user().limits().current
    assert (current.actor_memory_gbytes, current.active_actor_job_count) == (0.0, 0)
    assert current.monthly_usage_usd > 0  # the finished runs were billed
    fake.finish_run(second.id)  # finishing an aborted run again frees nothing twice
    assert (fake.usage().memory_mbytes, fake.usage().runs) == (0, 0)
    assert (fake.peak_memory_mbytes, fake.peak_runs) == (3072, 2)


def test_a_start_over_the_memory_limit_is_refused_once_and_fits_after_a_run_ends(
    make_fake,
) -> None:
    fake = make_fake(max_memory_mbytes=4096)
    first, _ = start(fake, 2048), start(fake, 1024)

    error = refusal(fake, 2048)

    assert error.type == "actor-memory-limit-exceeded"
    assert error.message == (
        "By launching this job you will exceed the memory limit of 4096MB for all your Actor "
        "runs and builds (currently used: 3072MB, requested: 2048MB). Please consider upgrading "
        f"or purchasing extra memory as an add-on at {BILLING} to increase your Actor memory "
        "limit."
    )
    posts = [r for r in fake.requests if r.method == "POST" and r.path == RUNS_PATH]
    assert len(posts) == 3  # 402 is not retried by the client
    assert len(fake.runs) == 2 and fake.refused == Counter({"actor-memory-limit-exceeded": 1})
    fake.finish_run(first.id)
    assert start(fake, 2048).status == "RUNNING"
    assert fake.usage().memory_mbytes == fake.peak_memory_mbytes == 3072


def test_a_start_over_the_concurrency_limit_is_refused(make_fake) -> None:
    fake = make_fake(max_concurrent_runs=2)
    start(fake), start(fake)

    error = refusal(fake, 128)

    assert error.type == "concurrent-runs-limit-exceeded"
    assert error.message == (
        "By launching this job you will exceed your limit of 2 concurrent Actor runs. Please "
        "consider upgrading or purchasing an increase to concurrent Actor runs as an add-on at "
        f"{BILLING} to increase your limit."
    )
    assert fake.peak_runs == 2


def test_memory_is_checked_before_concurrency(make_fake) -> None:
    fake = make_fake(max_memory_mbytes=2048, max_concurrent_runs=1)
    start(fake, 1024)

    assert refusal(fake, 2048).type == "actor-memory-limit-exceeded"
    assert refusal(fake, 512).type == "concurrent-runs-limit-exceeded"


def test_raising_the_limits_at_runtime_lets_a_start_through(make_fake) -> None:
    fake = make_fake(max_memory_mbytes=1024, max_concurrent_runs=1)
    start(fake, 1024)
    refusal(fake, 1024)

    account = fake.set_limits(max_memory_mbytes=4096, max_concurrent_runs=4)

    assert (account.max_memory_mbytes, account.max_concurrent_runs) == (4096, 4)
    assert start(fake, 1024).status == "RUNNING"
    assert client_for(fake).user().limits().limits.max_actor_memory_gbytes == 4.0
    with pytest.raises(TypeError):
        fake.set_limits(max_memory=1)
    with pytest.raises(ValueError):
        fake.set_limits(max_concurrent_runs=0)
    assert fake.account.max_concurrent_runs == 4


def test_external_usage_counts_against_the_limits_and_is_reported(make_fake) -> None:
    fake = make_fake(max_memory_mbytes=4096, max_monthly_usage_usd=100)

    fake.set_external_usage(memory_mbytes=3072, runs=1, usage_usd=12.5)

    current = client_for(fake).user().limits().current
    assert (current.actor_memory_gbytes, current.active_actor_job_count) == (3.0, 1)
    assert current.monthly_usage_usd == 12.5
    assert "(currently used: 3072MB, requested: 2048MB)" in refusal(fake, 2048).message
    assert start(fake, 1024).status == "RUNNING"
    assert (fake.usage().memory_mbytes, fake.usage().runs) == (4096, 2)
    fake.set_external_usage(memory_mbytes=0)  # the other figures stay
    assert (fake.account.external_runs, fake.account.external_usage_usd) == (1, 12.5)


@pytest.mark.parametrize(
    ("limits", "kind"),
    [
        ({"max_memory_mbytes": 8 * 1024}, "actor-memory-limit-exceeded"),
        ({"max_concurrent_runs": 5}, "concurrent-runs-limit-exceeded"),
    ],
)
def test_concurrent_starts_never_over_admit(make_fake, limits, kind) -> None:
    fake = make_fake(**limits)
    threads, barrier = 16, threading.Barrier(16)
    outcomes: list[str] = []

    def attempt() -> None:
        client = client_for(fake)
        barrier.wait()
        try:
            client.actor(ACTOR).start(run_input={}, memory_mbytes=1024)
            outcomes.append("started")
        except ApifyApiError as exc:
            outcomes.append(exc.type)

    workers = [threading.Thread(target=attempt) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=10)

    admitted = 8 if "max_memory_mbytes" in limits else 5
    assert Counter(outcomes) == Counter({"started": admitted, kind: threads - admitted})
    assert len(fake.runs) == admitted and fake.refused == Counter({kind: threads - admitted})
    assert fake.peak_runs == admitted and fake.peak_memory_mbytes == admitted * 1024


def test_the_monthly_usage_limit_refuses_starts_once_reached(make_fake) -> None:
    fake = make_fake(max_monthly_usage_usd=1.0)
    run = start(fake)
    fake.finish_run(run.id, items=[{"n": n} for n in range(2000)])  # 2000 × 0.0005 USD

    billed = client_for(fake).run(run.id).get().usage_total_usd
    assert billed >= 1.0
    assert client_for(fake).user().limits().current.monthly_usage_usd == pytest.approx(billed)
    error = refusal(fake)
    assert error.type == "usage-limit-exceeded"
    assert "monthly usage limit of 1 USD" in error.message
    fake.set_limits(max_monthly_usage_usd=50)
    assert start(fake).status == "RUNNING"


def test_a_zero_monthly_limit_refuses_every_start(make_fake) -> None:
    fake = make_fake(max_monthly_usage_usd=0)

    assert refusal(fake).type == "usage-limit-exceeded"
    assert fake.runs == {}


def test_samples_follow_every_start_and_finish(make_fake) -> None:
    fake = make_fake()
    first = start(fake, 2048)
    start(fake, 512)
    fake.finish_run(first.id)

    samples = fake.samples
    assert [(memory, runs) for _, memory, runs in samples] == [
        (0, 0),
        (2048, 1),
        (2560, 2),
        (512, 1),
    ]
    assert [t for t, _, _ in samples] == sorted(t for t, _, _ in samples)


def test_injected_failures_skip_the_account_endpoint_by_default(make_fake) -> None:
    fake = make_fake()
    fake.fail_next(400, error_type="invalid-input")

    client_for(fake).user().limits()  # polled in the background: not the failure's target
    with pytest.raises(InvalidRequestError):
        start(fake)
    assert start(fake).status == "RUNNING"


def test_a_failure_aimed_at_the_account_endpoint_spares_run_starts(make_fake) -> None:
    fake = make_fake()
    fake.fail_next(503, path=r"/v2/users/me/limits")

    assert start(fake, retries=0).status == "RUNNING"
    with pytest.raises(ServerError):
        client_for(fake, max_retries=0).user().limits()
    assert client_for(fake, max_retries=0).user().limits().current.active_actor_job_count == 1


def test_a_failure_stays_queued_until_a_matching_request(make_fake) -> None:
    fake = make_fake()
    fake.fail_next(429, path=r"/abort$")
    run = start(fake, retries=0)
    client = client_for(fake, max_retries=0)
    client.run(run.id).get()

    with pytest.raises(RateLimitError):
        client.run(run.id).abort()
    assert client.run(run.id).abort().status == "ABORTED"
