"""What bench/soak.py samples every interval, read from the outside as an operator would: each
process group's memory and descriptors from /proc, PostgreSQL's sessions from
pg_stat_activity, the Celery queues from Redis, and lateness from the executions table.

A group is a process the stack started plus everything in its process group (each is started
in a session of its own): a Celery worker with its pool children, gunicorn's master with its
workers. RSS is summed over the group (shared pages count once per process, so the absolute
figure overstates memory; its growth is what the soak judges).
"""

from __future__ import annotations

import math
import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from _common import queue_names, redis_client, sql

PROC = Path("/proc")


@dataclass
class GroupUsage:
    processes: int = 0
    rss_kib: int = 0
    fds: int = 0
    sockets: int = 0


@dataclass
class Sample:
    """One row of the soak's table: when, what each group holds, the queues, the lateness."""

    elapsed_s: float
    db_moment: datetime
    groups: dict[str, GroupUsage]
    pg_sessions: Counter[str]  # application name (the group) → sessions on the database
    queues: dict[str, int]
    unacked: int
    started: int  # scheduled executions created since the previous sample
    active: int  # executions pending, starting or running at the sample
    lateness_s: list[float] = field(default_factory=list)

    @property
    def pg_total(self) -> int:
        return sum(n for name, n in self.pg_sessions.items() if name != "harness")

    def total(self, attribute: str, exclude: tuple[str, ...] = ()) -> int:
        return sum(getattr(u, attribute) for n, u in self.groups.items() if n not in exclude)


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _pgid_and_rss(pid: str) -> tuple[int, int] | None:
    try:
        stat = (PROC / pid / "stat").read_text()
        status = (PROC / pid / "status").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    pgid = int(stat[stat.rindex(")") + 2 :].split()[2])
    rss = next(
        (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
    )
    return pgid, rss


def _descriptors(pid: str) -> tuple[int, int]:
    """(open descriptors, of which sockets) of one process."""
    fds = sockets = 0
    try:
        entries = os.listdir(PROC / pid / "fd")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return 0, 0
    for entry in entries:
        try:
            target = os.readlink(PROC / pid / "fd" / entry)
        except OSError:
            continue
        fds += 1
        sockets += target.startswith("socket:")
    return fds, sockets


def group_usage(leaders: dict[str, int]) -> dict[str, GroupUsage]:
    """Usage per group, given each group's leader pid (its process group id)."""
    by_pgid = {pid: name for name, pid in leaders.items()}
    usage = {name: GroupUsage() for name in leaders}
    for pid in (p for p in os.listdir(PROC) if p.isdigit()):
        found = _pgid_and_rss(pid)
        if found is None or found[0] not in by_pgid:
            continue
        group = usage[by_pgid[found[0]]]
        fds, sockets = _descriptors(pid)
        group.processes += 1
        group.rss_kib += found[1]
        group.fds += fds
        group.sockets += sockets
    return usage


def own_usage() -> GroupUsage:
    """The harness (with the in-process Apify sandbox): shown, not judged, since it keeps
    every run and delivery it saw for the report."""
    pid = str(os.getpid())
    found = _pgid_and_rss(pid)
    fds, sockets = _descriptors(pid)
    return GroupUsage(1, found[1] if found else 0, fds, sockets)


def pg_sessions(prefix: str) -> Counter[str]:
    """Sessions on the bench database per group (PGAPPNAME `<prefix><group>`)."""
    rows = sql(
        "SELECT application_name, pid = pg_backend_pid() FROM pg_stat_activity "
        "WHERE datname = current_database()"
    )
    counts: Counter[str] = Counter()
    for name, mine in rows:
        counts["harness" if mine else (name or "").removeprefix(prefix) or "other"] += 1
    return counts


def queue_depths() -> tuple[dict[str, int], int]:
    """LLEN of every queue the project publishes to, and the messages taken but not acked."""
    client = redis_client()
    depths = {name: int(client.llen(name)) for name in queue_names()}
    return depths, int(client.hlen("unacked"))


def executions_since(moment: datetime | None) -> tuple[datetime, int, int, list[float]]:
    """(database now, scheduled executions created after `moment`, executions active now,
    their lateness in seconds: created_at - scheduled_for, as the chaos checker reads it)."""
    now = sql("SELECT statement_timestamp()")[0][0]
    since = moment or datetime.min.replace(tzinfo=now.tzinfo)
    late = sql(
        "SELECT EXTRACT(EPOCH FROM created_at - scheduled_for)::float FROM schedules_execution "
        "WHERE trigger = 'scheduled' AND created_at > %s AND created_at <= %s",
        [since, now],
    )
    active = sql(
        "SELECT count(*) FROM schedules_execution WHERE state IN ('pending', 'starting', 'running')"
    )[0][0]
    return now, len(late), active, [row[0] for row in late]


def lateness_between(start: datetime, end: datetime) -> list[float]:
    """Lateness (s) of the scheduled executions whose slot falls in [start, end)."""
    rows = sql(
        "SELECT EXTRACT(EPOCH FROM created_at - scheduled_for)::float FROM schedules_execution "
        "WHERE trigger = 'scheduled' AND scheduled_for >= %s AND scheduled_for < %s",
        [start, end],
    )
    return [row[0] for row in rows]


def take_sample(
    elapsed_s: float, previous: Sample | None, leaders: dict[str, int], prefix: str
) -> Sample:
    """One sample of everything; lateness covers the executions since the previous one."""
    groups = group_usage(leaders)
    groups["harness"] = own_usage()
    depths, unacked = queue_depths()
    moment, started, active, lateness = executions_since(previous.db_moment if previous else None)
    return Sample(
        elapsed_s=elapsed_s,
        db_moment=moment,
        groups=groups,
        pg_sessions=pg_sessions(prefix),
        queues=depths,
        unacked=unacked,
        started=started,
        active=active,
        lateness_s=lateness,
    )
