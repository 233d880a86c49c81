"""The chaos run's failover form: a streaming standby of the run's own PostgreSQL
(`pg_basebackup -R`), promoted while the primary is stopped abruptly (`pg_ctl stop -m
immediate`, the loss of its host), and the pooler the stack reaches the database through
(PgBouncer, or chaos_support/proxy.py without it) switched to it. The stack's DATABASE_URL
never changes: as in production, only the pooler's target moves.

Synchronous by default (`synchronous_standby_names = '*'`, `synchronous_commit = on`, on the
primary's command line so the standby does not inherit them): docs/operations.md, "What a
failover can lose", recommends it, and the run shows that nothing acknowledged is lost.
Asynchronous (`--no-sync-standby`), a commit acknowledged just before the primary died may be
missing on the standby; the checker reports each such callback as a violation.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from chaos_support.postgres import OwnPostgres, bindir
from chaos_support.proxy import SwitchableProxy

if TYPE_CHECKING:
    from tests.pgbouncer import PgBouncer

HBA_REPLICATION = "host replication all 127.0.0.1/32 trust"
# A walreceiver cut off by a restart of the primary retries after this (5 s by default, during
# which a synchronous primary holds every commit).
STANDBY_SETTINGS = {"wal_retrieve_retry_interval": "100ms"}


def primary_settings(synchronous: bool) -> dict[str, str]:
    """The primary's replication settings: every commit waits for the standby when
    `synchronous`, none does otherwise."""
    if not synchronous:
        return {"synchronous_standby_names": ""}
    return {"synchronous_commit": "on", "synchronous_standby_names": "*"}


def make_standby(primary: OwnPostgres, port: int, synchronous: bool) -> OwnPostgres:
    """A base backup of the running primary (`-R`: standby.signal and its primary_conninfo),
    started on `port`; returns once it streams (and is the synchronous one, if asked)."""
    hba = primary.datadir / "pg_hba.conf"
    if HBA_REPLICATION not in hba.read_text():
        with hba.open("a") as file:
            file.write(f"\n{HBA_REPLICATION}\n")
        primary.ctl("reload")
    standby = OwnPostgres(primary.workdir, port, name="standby", extra=dict(STANDBY_SETTINGS))
    primary.run(
        [
            str(bindir() / "pg_basebackup"),
            *("-D", str(standby.datadir), "-R", "-X", "stream", "-c", "fast"),
            *("-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres"),
        ]
    )
    standby.start()
    wait_streaming(primary, synchronous)
    return standby


def wait_streaming(primary: OwnPostgres, synchronous: bool, timeout: float = 60.0) -> float:
    """Until the primary streams to its standby (as its synchronous one, if asked); seconds
    waited."""
    wanted = ("sync", "quorum") if synchronous else ("async", "potential", "sync", "quorum")
    started = time.monotonic()
    while time.monotonic() < started + timeout:
        rows = _query(
            primary.url,
            "SELECT sync_state FROM pg_stat_replication WHERE state = 'streaming'",
        )
        if any(state in wanted for (state,) in rows or []):
            return time.monotonic() - started
        time.sleep(0.05)
    raise RuntimeError(f"the standby does not stream after {timeout} s")


@dataclass
class Failover:
    """The primary, its standby, and how to point the pooler at another port."""

    primary: OwnPostgres
    standby: OwnPostgres
    switch: Callable[[int], object]  # the pooler's new target port
    pooled_url: str  # the stack's DATABASE_URL: through the pooler
    synchronous: bool
    lag_seconds: float = 0.0  # the standby's WAL receiver frozen (SIGSTOP) that long first
    promoted: bool = False

    def run(self, receiver: int | None = None) -> tuple[float, float]:
        """Stop the primary abruptly, promote the standby, switch the pooler. The `receiver`
        that `freeze` stopped is killed, so the WAL waiting in its socket is lost too (its
        standby restarts recovery from what it has on disk). Returns the seconds until the
        standby was promoted and until it answered through the pooler."""
        started = time.monotonic()
        self.primary.stop("immediate")
        if receiver is not None:
            os.kill(receiver, signal.SIGKILL)
        self.standby.ctl("promote")  # -w: returns once it left recovery
        _wait_for(lambda: _query(self.standby.url, "SELECT pg_is_in_recovery()") == [(False,)])
        promoted = time.monotonic() - started
        self.promoted = True
        self.switch(self.standby.port)
        through = "SELECT inet_server_port(), pg_is_in_recovery()"
        _wait_for(lambda: _query(self.pooled_url, through) == [(self.standby.port, False)])
        return promoted, time.monotonic() - started

    def freeze(self) -> int | None:
        """A standby that lags: its WAL receiver stopped for `lag_seconds` while the primary
        goes on committing (asynchronously: nothing waits; synchronously: every commit does).
        Returns the receiver's pid, None without a lag."""
        if not self.lag_seconds:
            return None
        rows = _query(self.standby.url, "SELECT pid FROM pg_stat_wal_receiver")
        if not rows:
            return None
        os.kill(rows[0][0], signal.SIGSTOP)
        time.sleep(self.lag_seconds)
        return rows[0][0]


def through_pooler(
    servers: tuple[OwnPostgres, OwnPostgres | None],
    pooler: PgBouncer | SwitchableProxy | None,
    database_url: str,
    synchronous: bool,
    lag_seconds: float = 0.0,
) -> Failover | None:
    """The failover of `servers` (primary, standby) behind `pooler`: its switch is PgBouncer's
    RELOAD with a new target, or the proxy's. None without a standby."""
    primary, standby = servers
    if standby is None:
        return None
    assert pooler is not None, "a failover needs a pooler whose target moves"
    url = pooler.url_for(database_url)
    if isinstance(pooler, SwitchableProxy):
        return Failover(primary, standby, pooler.switch, url, synchronous, lag_seconds)
    config, admin = str(pooler.log.parent / "pgbouncer.ini"), pooler.port

    def switch(port: int) -> None:
        retarget_pgbouncer(config, admin, port)

    return Failover(primary, standby, switch, url, synchronous, lag_seconds)


def retarget_pgbouncer(config: str, admin_port: int, port: int) -> None:
    """Point PgBouncer's `[databases]` at `port` and RELOAD it: its idle connections to the
    old server are closed, new ones go to `port`."""
    path = Path(config)
    text = re.sub(r"(?m)^(\* = .*\bport=)\d+", rf"\g<1>{port}", path.read_text())
    path.write_text(text)
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-p", str(admin_port), "-U", "postgres", "-d", "pgbouncer",
         "-c", "RELOAD"],
        check=True, capture_output=True, timeout=10,
    )  # fmt: skip


def point_harness_at(port: int) -> None:
    """The harness's own connections (driver, drain, checker) go to the promoted standby."""
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    settings.DATABASES["default"]["PORT"] = port
    for connection in connections.all():
        connection.settings_dict["PORT"] = port


def _query(url: str, query: str) -> list[tuple] | None:
    """Rows of `query` on `url`, or None while it cannot be reached."""
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
            return conn.execute(query, prepare=False).fetchall()
    except psycopg.Error:
        return None


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"failover: not done after {timeout} s")
        time.sleep(0.05)
