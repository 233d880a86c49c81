"""The hand-over of account capacity when a run ends, and the world without admission (the
benchmark's control): against the strict fake through the real apify-client."""

from __future__ import annotations

import pytest

from businesses.models import Team
from retry.models import RetryEntry
from schedules.capacity_selectors import capacity_overview
from schedules.models import Execution
from schedules.services.capacity import account_refresh
from schedules.services.execution_start import execution_start
from schedules.services.ingest import execution_ingest
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify
from tests.schedules.test_admission import make_pending

S = ExecutionState


def test_an_ended_run_frees_its_capacity_before_its_dataset_is_ingested(
    fake_apify: FakeApify, alice: Team
) -> None:
    fake_apify.set_limits(max_concurrent_runs=1)
    account_refresh()
    (business,) = register_google(alice)
    first, second = make_pending(business, 2)
    assert execution_start(execution_id=first) == S.RUNNING
    assert execution_start(execution_id=second) == S.PENDING
    run_id = Execution.objects.get(id=first).apify_run_id
    fake_apify.finish_run(run_id, items=[], deliver_webhooks=False)
    fake_apify.fail_next(403, path=r"/datasets/")  # the download breaks after the run ended

    with pytest.raises(Exception):  # noqa: B017 (whatever the client raises for a 403)
        execution_ingest(execution_id=first)

    # The waiting start took the freed slot though the first run is not ingested yet.
    ended = Execution.objects.get(id=first)
    assert ended.state == S.RUNNING and ended.run_ended_at is not None
    assert Execution.objects.get(id=second).state == S.RUNNING
    assert capacity_overview().runs_in_use == 1
    assert fake_apify.peak_runs == 1 and not fake_apify.refused

    # The next ingest finishes the first run and releases nothing twice.
    result = execution_ingest(execution_id=first)
    assert result is not None and result.state == S.SUCCEEDED
    assert capacity_overview().runs_in_use == 1


@pytest.mark.django_db(transaction=True)
def test_without_admission_a_refused_start_fails_and_its_businesses_retry(
    fake_apify: FakeApify, alice: Team, settings
) -> None:
    settings.SCHEDULER_CAPACITY_ADMISSION = False
    fake_apify.set_limits(max_concurrent_runs=1)
    (business,) = register_google(alice)
    first, second = make_pending(business, 2)

    # Nothing holds the second back: the same round fires both, and Apify refuses one.
    assert execution_start(execution_id=first) == S.RUNNING

    assert Execution.objects.get(id=second).state == S.FAILED
    refused = Execution.objects.get(id=second)
    assert "concurrent-runs-limit-exceeded" in refused.error
    assert RetryEntry.objects.filter(business=business).count() == 1
    assert fake_apify.refused == {"concurrent-runs-limit-exceeded": 1}
