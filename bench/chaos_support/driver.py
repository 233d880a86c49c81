"""The chaos run's driver: breaks the stack on a timetable (SIGKILLs, terminated database
connections, a blackout of every dispatcher, a Redis restart, PostgreSQL restarts, a failover
to the standby) and keeps a log of what it broke, with the database moments the checker
needs."""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime

from _common import sql

from chaos_support import stack as st
from chaos_support.failover import Failover, point_harness_at, wait_streaming
from chaos_support.postgres import OwnPostgres

# Share of the timeline: after the Redis restart (50-70 %), before the -m immediate (85 %).
FAILOVER_AT = 0.75


class Driver:
    """Breaks things on a timetable and keeps a log of what it broke."""

    def __init__(
        self,
        stack: st.Stack,
        args: argparse.Namespace,
        redis_port: int,
        postgres: OwnPostgres | None = None,
        failover: Failover | None = None,
    ) -> None:
        self.stack, self.rng = stack, random.Random(args.seed)
        self.redis_port, self.postgres, self.failover = redis_port, postgres, failover
        # (share of the timeline, pg_ctl stop mode): the database restarts of this run.
        self.db_restarts = [(0.4, "fast")] if args.short else [(0.4, "fast"), (0.85, "immediate")]
        self.outages: list[tuple[datetime, datetime]] = []  # database moments around each
        self.low, self.high = (float(x) for x in args.fault_every.split(","))
        self.down: dict[str, float] = {}  # name → when it comes back
        self.log: list[tuple[float, str]] = []
        self.counts = {
            "SIGKILL": 0,
            "pg_terminate_backend": 0,
            "redis restart": 0,
            "postgres restart -m fast": 0,
            "postgres restart -m immediate": 0,
            "postgres failover (primary lost, standby promoted)": 0,
        }
        self.failover_seconds: tuple[float, float] | None = None  # promoted, through the pooler
        self.blackout_seconds = args.blackout
        self.blackouts: list[tuple[datetime, datetime]] = []  # database moments
        self.started = time.monotonic()

    def note(self, what: str) -> None:
        elapsed = time.monotonic() - self.started
        self.log.append((elapsed, what))
        print(f"  [{elapsed:6.1f} s, DB {db_clock():%H:%M:%S.%f}] {what}", flush=True)

    def run(self, seconds: float) -> None:
        end = self.started + seconds
        next_kill = self.started + self.rng.uniform(self.low, self.high)
        next_terminate = self.started + self.rng.uniform(self.low, self.high)
        redis_at = self.started + seconds * self.rng.uniform(0.5, 0.7)
        blackout_at = self.started + seconds * 0.25
        failover_at = self.started + seconds * FAILOVER_AT if self.failover else 0.0
        while (now := time.monotonic()) < end:
            for name, back_at in list(self.down.items()):
                if now >= back_at:
                    self.stack.start(name)
                    del self.down[name]
                    self.note(f"{name} started again")
            for name in self.stack.revive_dead(exclude=set(self.down)):
                self.note(f"{name} had exited by itself: started again")
            if now >= next_kill:
                self.kill_one()
                next_kill = now + self.rng.uniform(self.low, self.high)
            if now >= next_terminate:
                self.terminate_connections()
                next_terminate = now + self.rng.uniform(self.low, self.high)
            if blackout_at and now >= blackout_at:
                self.blackout()
                blackout_at = 0.0
            if redis_at and now >= redis_at:
                self.restart_redis()
                redis_at = 0.0
            due = [r for r in self.db_restarts if now >= self.started + seconds * r[0]]
            for restart in due:
                self.db_restarts.remove(restart)
                self.restart_postgres(restart[1])
            if failover_at and now >= failover_at:
                self.fail_over()
                failover_at = 0.0
            time.sleep(0.2)
        for name in list(self.down):
            self.stack.start(name)
            del self.down[name]

    def kill_one(self) -> None:
        candidates = [
            n for n in self.stack.names("beat", "dispatcher", "worker") if n not in self.down
        ]
        victim = self.rng.choice(candidates)
        self.stack.kill(victim)
        self.down[victim] = time.monotonic() + self.rng.uniform(1.0, 3.0)
        self.counts["SIGKILL"] += 1
        self.note(f"SIGKILL {victim}")

    def blackout(self) -> None:
        """Every dispatch path down at once (both beats and both loops) for a while."""
        victims = [n for n in self.stack.names("beat", "dispatcher") if n not in self.down]
        for name in victims:
            self.stack.kill(name)
        began = db_clock()
        self.note(f"blackout: SIGKILL {', '.join(victims)} for {self.blackout_seconds:g} s")
        time.sleep(self.blackout_seconds)
        for name in [*victims, *self.down]:
            self.stack.start(name)
        self.down.clear()
        self.blackouts.append((began, db_clock()))
        self.counts["SIGKILL"] += len(victims)
        self.note("blackout over: dispatchers started again")

    def terminate_connections(self) -> None:
        killed = sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE 'chaos-dispatcher-%%' "
            "OR application_name LIKE 'chaos-worker-%%'"
        )[0][0]
        self.counts["pg_terminate_backend"] += killed
        self.note(f"pg_terminate_backend on {killed} dispatcher and worker connections")

    def restart_redis(self) -> None:
        self.stack.kill("redis")
        self.note("Redis killed (no persistence: every queued message is lost)")
        time.sleep(3)
        self.stack.start("redis")
        st.wait_for_port(self.redis_port)
        self.counts["redis restart"] += 1
        self.note("Redis started again")

    def restart_postgres(self, mode: str) -> None:
        """`pg_ctl restart -m <mode>` of the run's own cluster: every connection of every
        process breaks; fast writes a checkpoint, immediate is a crash (WAL replay)."""
        if self.postgres is None:
            return
        from django.db import connections

        began = db_clock()
        down = self.postgres.restart(mode)
        streaming = ""
        if self.failover is not None and not self.failover.promoted:
            # A synchronous primary holds every commit until its standby is back.
            waited = wait_streaming(self.postgres, self.failover.synchronous)
            streaming = f", standby streaming again {waited:.2f} s later"
        connections.close_all()  # the harness's own connection died with the server
        self.outages.append((began, db_clock()))
        self.counts[f"postgres restart -m {mode}"] += 1
        self.note(f"PostgreSQL restarted (-m {mode}), unreachable {down:.2f} s{streaming}")

    def fail_over(self) -> None:
        """The primary stopped abruptly (-m immediate), the standby promoted, the pooler
        switched to it. The outage ends when the standby answers through the pooler."""
        assert self.failover is not None
        if self.failover.lag_seconds:
            self.note(f"failover: standby's WAL receiver frozen {self.failover.lag_seconds:g} s")
        receiver = self.failover.freeze()
        began = db_clock()
        self.note("failover: primary stopped -m immediate, promoting the standby")
        promoted, through = self.failover.run(receiver)
        point_harness_at(self.failover.standby.port)
        self.outages.append((began, db_clock()))
        if self.postgres is not None:
            self.postgres = self.failover.standby  # the later restarts are the new primary's
        self.failover_seconds = (promoted, through)
        self.counts["postgres failover (primary lost, standby promoted)"] += 1
        self.note(
            f"failover: standby promoted after {promoted:.2f} s, "
            f"answering through the pooler after {through:.2f} s"
        )


def wait_until_ready(stack: st.Stack, timeout: float = 120.0) -> float:
    """Until every worker says it is ready and every beat started: on a loaded machine they
    take 10 s and more, and the timeline's first slots are due 3 s after the seed. Seconds
    waited."""
    marks = {n: " ready." for n in stack.names("worker")} | {
        n: "is starting." for n in stack.names("beat")
    }
    started = time.monotonic()
    while marks and time.monotonic() < started + timeout:
        for name, mark in list(marks.items()):
            log = stack.logs / f"{name}.log"
            if log.exists() and mark in log.read_text(errors="replace"):
                del marks[name]
        time.sleep(0.2)
    return time.monotonic() - started


def db_clock() -> datetime:
    return sql("SELECT statement_timestamp()")[0][0]
