"""Pure scheduling rules: stagger, run-time grids and the misfire plan.

Functions of plain values only, so they are tested with tables and controlled time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
# Counting missed cron slots one by one stops here; the count is then a lower bound.
MAX_COUNTED_SLOTS = 10_000


def stagger_offset_seconds(batch_index: int, interval_minutes: int, step_minutes: int) -> int:
    """Batches of one group start `step` apart, wrapping inside the interval."""
    return (batch_index * step_minutes * 60) % (interval_minutes * 60)


@dataclass(frozen=True)
class IntervalGrid:
    """Slots at EPOCH + offset + k × interval: every dispatcher computes the same slots."""

    interval_seconds: int
    offset_seconds: int = 0

    def _index(self, moment: datetime) -> tuple[int, int]:
        elapsed = (moment - EPOCH) // _US - self.offset_seconds * 1_000_000
        return divmod(elapsed, self.interval_seconds * 1_000_000)

    def _slot(self, k: int) -> datetime:
        return EPOCH + timedelta(seconds=self.offset_seconds + k * self.interval_seconds)

    def next_after(self, moment: datetime) -> datetime:
        k, _ = self._index(moment)
        return self._slot(k + 1)

    def latest_at_or_before(self, moment: datetime) -> datetime:
        k, _ = self._index(moment)
        return self._slot(k)

    def count_between(self, start: datetime, end: datetime) -> int:
        """Slots s with start < s <= end."""
        return max(0, self._index(end)[0] - self._index(start)[0])


@dataclass(frozen=True)
class CronGrid:
    """Slots of a cron expression in a time zone (DST-aware), shifted by the batch offset."""

    expression: str
    timezone: str = "UTC"
    offset_seconds: int = 0

    def _iter(self, moment: datetime) -> croniter:
        local = (moment - timedelta(seconds=self.offset_seconds)).astimezone(
            ZoneInfo(self.timezone)
        )
        return croniter(self.expression, local)

    def _shift(self, local: datetime) -> datetime:
        return local.astimezone(UTC) + timedelta(seconds=self.offset_seconds)

    def next_after(self, moment: datetime) -> datetime:
        return self._shift(self._iter(moment).get_next(datetime))

    def latest_at_or_before(self, moment: datetime) -> datetime:
        probe = moment + _US
        return self._shift(self._iter(probe).get_prev(datetime))

    def count_between(self, start: datetime, end: datetime) -> int:
        count, slot = 0, self.next_after(start)
        while slot <= end and count < MAX_COUNTED_SLOTS:
            count, slot = count + 1, self.next_after(slot)
        return count


Grid = IntervalGrid | CronGrid


def is_valid_cron(expression: str) -> bool:
    return croniter.is_valid(expression)


@dataclass(frozen=True)
class SlotPlan:
    """What one dispatch does with a due batch."""

    run_slot: datetime | None  # the slot to execute now; None: wait for the next one
    missed: int  # due slots that will never run
    next_run_at: datetime  # strictly after `now`


def plan_due_slot(
    *,
    grid: Grid,
    next_run_at: datetime,
    now: datetime,
    catchup_window: timedelta,
    always_run_once: bool = False,
) -> SlotPlan:
    """Misfire handling for a batch due at `next_run_at`, seen at database time `now`.

    Every slot from `next_run_at` up to `now` is due; at most the LATEST runs. With the
    default `skip` policy it runs only if it is at most `catchup_window` old (so a short
    outage or a slow tick still runs the batch, a long one does not run stale work); the
    others are counted as missed. `run_once` always runs the latest slot.
    """
    latest = max(next_run_at, grid.latest_at_or_before(now))
    due_slots = 1 + grid.count_between(next_run_at, latest)
    following = grid.next_after(max(now, latest))
    if always_run_once or now - latest <= catchup_window:
        return SlotPlan(run_slot=latest, missed=due_slots - 1, next_run_at=following)
    return SlotPlan(run_slot=None, missed=due_slots, next_run_at=following)


def first_slot_at_or_after(grid: Grid, moment: datetime) -> datetime:
    latest = grid.latest_at_or_before(moment)
    return latest if latest == moment else grid.next_after(moment)


def upcoming_slots(grid: Grid, start: datetime, count: int) -> list[datetime]:
    """`count` run times of `grid`: `start` (a slot) and the slots after it."""
    slots: list[datetime] = []
    slot = start
    while len(slots) < count:
        slots.append(slot)
        slot = grid.next_after(slot)
    return slots
