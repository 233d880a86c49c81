"""Retry backoff: a pure function of plain values."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta


def next_attempt_delay(
    *, attempts_done: int, delays_minutes: Sequence[int], max_attempts: int
) -> timedelta | None:
    """Delay before the next single-business retry, or None when the entry is dead.

    `attempts_done` counts retry runs already made (0 after the first failure).
    """
    if attempts_done >= max_attempts or not delays_minutes:
        return None
    return timedelta(minutes=delays_minutes[min(attempts_done, len(delays_minutes) - 1)])
