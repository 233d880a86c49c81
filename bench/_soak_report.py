"""The soak's table and its verdicts, from the samples alone (bench/soak.py takes them).

Definitions, so that a verdict means one thing:
- warm-up: the first 10 minutes, or the first third for runs shorter than 30 minutes. A
  figure's baseline is its peak over the samples up to the first one at or after the warm-up
  (each process opens its connections and fills its caches then, and a single sample can
  catch a connection just closed by CONN_MAX_AGE); growth is (last sample - baseline) /
  baseline.
- memory flat: for every process group the stack started, RSS growth < 10 %.
- connections flat: the same for the stack's PostgreSQL sessions on the database, its open
  sockets and its open descriptors (totals over the groups, the harness excluded), where a
  count may also grow by one (a prefork child that got its first task late: 8 -> 9 sessions
  is +12.5 %); and no group ever holds more sessions than it has processes.
- lateness steady: the slots after the run's first minute (every process's first tasks)
  split into thirds by due time; the p99 lateness (created_at - scheduled_for) of the last
  third's slots is at most the first third's p99 plus one dispatch tick.
- no process exited: every process the stack started still runs at the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from _common import print_table
from _soak_sampling import Sample, lateness_between, pct

GROWTH_LIMIT = 0.10
LONG_RUN_S = 30 * 60
WARM_UP_S = 10 * 60
START_UP_S = 60  # slots left out of the lateness thirds: every process's first tasks


@dataclass
class SoakVerdict:
    lines: list[tuple[str, str, str]] = field(default_factory=list)  # (check, figure, OK/FAIL)
    violations: list[str] = field(default_factory=list)

    def judge(self, check: str, figure: str, ok: bool) -> None:
        self.lines.append((check, figure, "OK" if ok else "FAIL"))
        if not ok:
            self.violations.append(f"{check}: {figure}")


def warm_up_seconds(duration_s: float) -> float:
    return WARM_UP_S if duration_s >= LONG_RUN_S else duration_s / 3


def _mib(kib: int) -> float:
    return kib / 1024


def _seconds(value: float) -> float | str:
    return "n/a" if math.isnan(value) else round(value, 2)


def print_samples(samples: Sequence[Sample], groups: Sequence[str]) -> None:
    """One row per sample: RSS per group (MiB), the stack's descriptors, sockets and
    PostgreSQL sessions, queued and unacked messages, executions and their lateness (s)."""
    header = [
        "min",
        *[f"{g} MiB" for g in groups],
        "fds",
        "sockets",
        "pg",
        "queued",
        "unacked",
        "started",
        "active",
        "late p50",
        "late p99",
        "late max",
    ]
    rows = []
    for s in samples:
        rows.append(
            (
                f"{s.elapsed_s / 60:.1f}",
                *[round(_mib(s.groups[g].rss_kib), 1) for g in groups],
                s.total("fds", exclude=("harness",)),
                s.total("sockets", exclude=("harness",)),
                s.pg_total,
                sum(s.queues.values()),
                s.unacked,
                s.started,
                s.active,
                _seconds(pct(s.lateness_s, 50)),
                _seconds(pct(s.lateness_s, 99)),
                _seconds(max(s.lateness_s, default=math.nan)),
            )
        )
    print_table("Soak: one row per sample", header, rows)


def _growth(base: float, last: float) -> float:
    return (last - base) / base if base else (0.0 if last == base else math.inf)


def _judge_growth(verdict: SoakVerdict, what: str, base: float, last: float, counted: bool) -> None:
    """Growth below GROWTH_LIMIT; a count may also grow by one where that is more (8 -> 9)."""
    growth = _growth(base, last)
    figure = f"{base:,.1f} -> {last:,.1f} ({growth:+.1%})"
    check = f"{what} growth after warm-up < {GROWTH_LIMIT:.0%}" + (" (or 1)" if counted else "")
    verdict.judge(check, figure, growth < GROWTH_LIMIT or (counted and last - base <= 1))


def _judge_flat(
    verdict: SoakVerdict, samples: Sequence[Sample], groups: Sequence[str], warm: float
) -> None:
    """Memory and connections: the last sample against the peak up to the warm-up's end."""
    after = [s for s in samples if s.elapsed_s >= warm]
    warm_up, last = [s for s in samples if s.elapsed_s <= after[0].elapsed_s], after[-1]
    figures = {
        **{f"RSS {g} (MiB)": (lambda s, g=g: _mib(s.groups[g].rss_kib), False) for g in groups},
        "PostgreSQL sessions": (lambda s: s.pg_total, True),
        "open sockets": (lambda s: s.total("sockets", exclude=("harness",)), True),
        "open fds": (lambda s: s.total("fds", exclude=("harness",)), True),
    }
    for what, (read, counted) in figures.items():
        _judge_growth(verdict, what, max(read(s) for s in warm_up), read(last), counted)


def _judge_sessions_bound(
    verdict: SoakVerdict, samples: Sequence[Sample], groups: Sequence[str]
) -> None:
    """No group ever holds more database sessions than it has processes (one each, the
    default alias): more is a leak whatever the growth."""
    worst = max(
        ((s.pg_sessions.get(g, 0) - s.groups[g].processes, g, s) for s in samples for g in groups),
        key=lambda found: found[0],
    )
    excess, group, sample = worst
    figure = (
        f"closest: {group} {sample.pg_sessions.get(group, 0)} sessions for "
        f"{sample.groups[group].processes} processes at {sample.elapsed_s / 60:.1f} min"
    )
    verdict.judge("PostgreSQL sessions per group <= its processes", figure, excess <= 0)


def judge(
    samples: Sequence[Sample],
    groups: Sequence[str],
    *,
    duration_s: float,
    slots: tuple[datetime, datetime],
    tick_s: float,
    exited: Sequence[str],
) -> SoakVerdict:
    """Every verdict of the module docstring, from the samples and the executions table."""
    verdict = SoakVerdict()
    warm = warm_up_seconds(duration_s)
    after = [s for s in samples if s.elapsed_s >= warm]
    verdict.judge(
        "samples after the warm-up (need 2)",
        f"{len(after)} of {len(samples)} (warm-up {warm / 60:.1f} min)",
        len(after) >= 2,
    )
    if len(after) >= 2:
        _judge_flat(verdict, samples, groups, warm)
    _judge_sessions_bound(verdict, samples, groups)
    _judge_lateness(verdict, slots, tick_s)
    started = sum(s.started for s in samples)
    verdict.judge("scheduled executions started", f"{started:,}", started > 0)
    verdict.judge("processes that exited", ", ".join(exited) or "none", not exited)
    return verdict


def _judge_lateness(verdict: SoakVerdict, slots: tuple[datetime, datetime], tick_s: float) -> None:
    start, end = slots[0] + timedelta(seconds=START_UP_S), slots[1]
    third = (end - start) / 3
    first = lateness_between(start, start + third)
    last = lateness_between(end - third, end)
    p_first, p_last = pct(first, 99), pct(last, 99)
    figure = (
        f"first third p99 {p_first:.2f} s ({len(first):,} slots), "
        f"last third p99 {p_last:.2f} s ({len(last):,} slots), tick {tick_s:g} s"
    )
    ok = bool(first and last) and p_last <= p_first + tick_s
    verdict.judge("lateness steady (last-third p99 <= first-third p99 + 1 tick)", figure, ok)


def print_verdict(verdict: SoakVerdict) -> None:
    """The verdict table, then the violations last (a caller keeping the tail reads them)."""
    print_table("Soak: verdicts", ["check", "figure", "verdict"], verdict.lines)
    if verdict.violations:
        print("\nVIOLATED:")
        for violation in verdict.violations:
            print(f"  - {violation}")
    else:
        print("\nSoak held: memory and connections flat, lateness steady, nothing exited.")
