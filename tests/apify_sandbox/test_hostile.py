"""The hostile switches' own rules: how they are written, and what each one does to a reply.
(What the scheduler makes of them: tests/integration/test_hostile_apify.py.)"""

from __future__ import annotations

import pytest

from apify_sandbox.hostile import Hostility
from apify_sandbox.runs import ApiError


def test_the_command_line_form_sets_every_switch() -> None:
    parsed = Hostility.parse(
        "latency=0.2, error-burst=3/10, rate-limit-storm=5/40, silent-runs, lying-pagination,"
        "shifting-datasets=2, non-object-rate=0.05, truncate-every=3"
    )

    assert parsed == Hostility(
        latency=0.2,
        error_burst=3,
        error_every=10,
        rate_limit_storm=5,
        rate_limit_every=40,
        silent_runs=True,
        lying_pagination=True,
        shifting_datasets=2,
        non_object_rate=0.05,
        truncate_every=3,
    )
    assert parsed.active and not Hostility.parse("").active


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("volcano=1", "unknown hostile switch 'volcano'"),
        ("error-burst=4/4", "error_every must be larger than error_burst"),
        ("non-object-rate=1.5", "between 0 and 1"),
        ("latency=-1", "0 or more"),
    ],
)
def test_a_bad_switch_is_refused_with_its_name(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Hostility.parse(spec)


def test_bursts_come_back_every_period_and_cycle_through_the_5xx_statuses() -> None:
    hostility = Hostility(error_burst=2, error_every=5)
    answers = []
    for _ in range(15):
        try:
            hostility.before("/v2/actor-runs/x")
            answers.append(200)
        except ApiError as exc:
            answers.append(exc.args[0])

    assert answers == [200, 200, 200, 500, 502, 200, 200, 200, 503, 500, 200, 200, 200, 502, 503]


def test_lying_pages_claim_a_full_page_even_past_the_end() -> None:
    hostility = Hostility(lying_pagination=True)
    items = list(range(10))

    assert hostility.page("d", items, 0, 4) == ([0, 1], {"total": 2, "offset": 0, "count": 4})
    assert hostility.page("d", items, 12, 4) == ([], {"total": 12, "offset": 0, "count": 4})


def test_a_shifting_dataset_moves_only_for_its_first_reads() -> None:
    hostility = Hostility(shifting_datasets=1)
    items = list(range(6))

    assert hostility.page("d", items, 0, 3)[0] == [1, 2, 3]
    assert hostility.modified_at("d") is not None and hostility.modified_at("e") is None
    assert hostility.page("d", items, 3, 3)[0] == [3, 4, 5]


def test_the_same_item_is_replaced_in_any_order_of_reading() -> None:
    hostility = Hostility(non_object_rate=0.5)
    items = [{"reviewId": str(n)} for n in range(40)]
    forward = [hostility.served_item("d", item) for item in items]
    backward = [hostility.served_item("d", item) for item in reversed(items)]

    assert forward == backward[::-1]
    assert 5 < sum(not isinstance(item, dict) for item in forward) < 35
