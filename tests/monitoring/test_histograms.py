"""The loop's histograms: a run started late and ingested shows in /metrics as cumulative
buckets, counted once per commit, whichever process observed it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from businesses.models import Team
from scheduler_project.dbclock import db_now
from scheduler_project.observations import DISPATCH_LATENESS, bucket_of
from schedules.models import Execution
from schedules.services.execution_start import execution_start
from schedules.services.executions import execution_build
from schedules.services.ingest import execution_ingest
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify


def _samples(client) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").content.decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith(
            ("scheduler_dispatch_lateness", "scheduler_run_duration", "scheduler_ingest_duration")
        )
    }


def test_buckets_hold_what_they_say() -> None:
    assert bucket_of(DISPATCH_LATENESS, 0.2) == "le:1"
    assert bucket_of(DISPATCH_LATENESS, 45) == "le:60"
    assert bucket_of(DISPATCH_LATENESS, 99999) == "le:+Inf"


@pytest.mark.django_db(transaction=True)
def test_a_late_run_is_counted_once_in_each_histogram(
    client, fake_apify: FakeApify, alice: Team
) -> None:
    (business,) = register_google(alice)
    snapshot = [
        {
            "business_id": business.id,
            "team_id": "alice",
            "external_id": business.external_id,
            "key": business.platform_key,
        }
    ]
    execution = execution_build(
        trigger="manual",
        now=db_now(),
        platform="google",
        scrape_type="reviews",
        snapshot=snapshot,
        scheduled_for=db_now() - timedelta(seconds=45),
    )
    execution.save()
    assert execution_start(execution_id=execution.id) == "running"
    run_id = Execution.objects.get(id=execution.id).apify_run_id
    fake_apify.finish_run(run_id, items=[], deliver_webhooks=False)
    assert execution_ingest(execution_id=execution.id) is not None
    assert execution_ingest(execution_id=execution.id) is None  # a second ingest counts nothing

    samples = _samples(client)
    google = (("platform", "google"),)
    lateness = "scheduler_dispatch_lateness_seconds_bucket"
    assert samples[(lateness, (("le", "30"), *google))] == 0
    assert samples[(lateness, (("le", "60"), *google))] == 1  # 45 s late
    assert samples[(lateness, (("le", "+Inf"), *google))] == 1
    assert 45 <= samples[("scheduler_dispatch_lateness_seconds_sum", google)] < 60
    assert samples[("scheduler_run_duration_seconds_count", google)] == 1
    assert samples[("scheduler_ingest_duration_seconds_count", google)] == 1
