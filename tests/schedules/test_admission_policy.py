"""The admission policy alone: what fits, in which order, and the retries' share."""

from __future__ import annotations

from decimal import Decimal

from schedules.admission import Budget, Candidate, InFlight, admit, budget_of, retry_cap


def _budget(**overrides: object) -> Budget:
    values = dict(
        memory_limit_mbytes=32768,
        runs_limit=32,
        external_memory_mbytes=0,
        external_runs=0,
        memory_cap_mbytes=0,
        runs_cap=0,
        monthly_limit_usd=Decimal("100"),
        monthly_usage_usd=Decimal("10"),
        monthly_headroom_usd=1.0,
    )
    return budget_of(**{**values, **overrides})


def _queue(*specs: tuple[int, bool]) -> list[Candidate]:
    return [Candidate(key=i, memory_mbytes=m, is_retry=r) for i, (m, r) in enumerate(specs)]


def test_the_budget_is_the_account_minus_runs_started_elsewhere() -> None:
    budget = _budget(external_memory_mbytes=8192, external_runs=5)
    assert (budget.memory_mbytes, budget.runs, budget.stop_reason) == (24576, 27, "")


def test_our_own_caps_lower_the_budget_never_raise_it() -> None:
    assert _budget(memory_cap_mbytes=4096, runs_cap=3) == Budget(4096, 3)
    assert _budget(memory_cap_mbytes=10**6, runs_cap=1000) == Budget(32768, 32)
    unknown = _budget(memory_limit_mbytes=None, runs_limit=None, runs_cap=4)
    assert (unknown.memory_mbytes, unknown.runs) == (None, 4)


def test_external_usage_past_the_limit_leaves_no_room_rather_than_a_negative_one() -> None:
    assert _budget(external_runs=40, external_memory_mbytes=40000) == Budget(0, 0)


def test_the_monthly_limit_minus_the_headroom_stops_every_start() -> None:
    assert _budget(monthly_usage_usd=Decimal("98.99")).stop_reason == ""
    stopped = _budget(monthly_usage_usd=Decimal("99"))
    assert "monthly usage" in stopped.stop_reason and "99.00 of 100.00" in stopped.stop_reason
    assert admit(_queue((1024, False)), budget=stopped, in_flight=InFlight(), retry_share=1) == []


def test_admission_fills_the_room_in_queue_order() -> None:
    queue = _queue(*[(4096, False)] * 10)
    chosen = admit(queue, budget=Budget(32768, 32), in_flight=InFlight(8192, 2), retry_share=0.25)
    assert [c.key for c in chosen] == [0, 1, 2, 3, 4, 5]  # 8 GB held + 6 × 4 GB = 32 GB


def test_the_run_count_binds_too() -> None:
    chosen = admit(_queue(*[(128, False)] * 10), budget=Budget(32768, 3), in_flight=InFlight())
    assert len(chosen) == 3


def test_a_large_start_at_the_head_is_not_overtaken_by_small_ones() -> None:
    queue = _queue((8192, False), (1024, False), (1024, False))
    chosen = admit(queue, budget=Budget(8192, 10), in_flight=InFlight(4096, 1), retry_share=1)
    assert chosen == []  # the 1 GB runs would fit, but the 8 GB one is first


def test_retries_take_at_most_their_share_while_scheduled_work_waits() -> None:
    queue = _queue(*[(1024, True)] * 6, *[(1024, False)] * 6)
    chosen = admit(queue, budget=Budget(None, 8), in_flight=InFlight(), retry_share=0.25)
    assert [c.is_retry for c in chosen] == [True, True] + [False] * 6


def test_retries_are_never_starved_and_take_everything_when_nothing_else_waits() -> None:
    assert retry_cap(Budget(None, 2), share=0.0) == 1
    only_retries = _queue(*[(1024, True)] * 5)
    assert len(admit(only_retries, budget=Budget(None, 4), in_flight=InFlight())) == 4
    mixed = _queue((1024, True), (1024, False))
    chosen = admit(mixed, budget=Budget(None, 4), in_flight=InFlight(), retry_share=0.0)
    assert [c.is_retry for c in chosen] == [True, False]


def test_unknown_limits_admit_everything() -> None:
    assert len(admit(_queue(*[(32768, False)] * 50), budget=Budget(None, None))) == 50
