from datetime import timedelta

import pytest

from retry.policies import next_attempt_delay


@pytest.mark.parametrize(
    ("attempts_done", "delay"),
    [
        (0, timedelta(minutes=5)),
        (1, timedelta(minutes=15)),
        (2, timedelta(minutes=45)),
        (3, None),
        (7, None),
    ],
)
def test_backoff_is_5_15_45_minutes_then_dead(attempts_done: int, delay: timedelta | None) -> None:
    assert (
        next_attempt_delay(attempts_done=attempts_done, delays_minutes=[5, 15, 45], max_attempts=3)
        == delay
    )


def test_more_attempts_than_delays_repeat_the_last_delay() -> None:
    assert next_attempt_delay(attempts_done=4, delays_minutes=[5, 15], max_attempts=6) == (
        timedelta(minutes=15)
    )
