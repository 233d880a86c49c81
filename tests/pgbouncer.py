"""A PgBouncer of the test run's own, in transaction pooling mode, in front of the suite's
PostgreSQL: the processes the integration tests start (workers, beats, the web, the chaos
run's stack) reach the database through it, as a production deployment behind a pooler
does (docs/operations.md, "PgBouncer").

Debian's `pgbouncer` binary (`.ci/run` installs it); where it is missing, `start()` returns
None and the processes connect directly. PgBouncer refuses to run as root: it is started with
`-u postgres` then, and logs to its stderr (captured) so it needs no writable directory.
"""

from __future__ import annotations

import csv
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

CONFIG = """\
[databases]
* = host={host} port={port} user={user}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {listen_port}
auth_type = any
pool_mode = transaction
max_client_conn = 2000
default_pool_size = 40
server_idle_timeout = 10
; After PostgreSQL restarts, retry its login within a second, not the default 15 s (during
; which every new client is refused: the chaos run's database restarts found it).
server_login_retry = 1
unix_socket_dir =
logfile =
pidfile =
ignore_startup_parameters = extra_float_digits
admin_users = {user}
"""


@dataclass
class PgBouncer:
    process: subprocess.Popen
    port: int
    log: Path

    def url_for(self, database_url: str) -> str:
        """The same database, user and options as `database_url`, through this pooler."""
        parts = urlsplit(database_url)
        user = f"{parts.username}@" if parts.username else ""
        return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{self.port}"))

    def transactions(self, database: str) -> int:
        """How many transactions clients ran on `database` through this pooler (its admin
        console's SHOW STATS, which speaks only the simple query protocol: psql does)."""
        out = subprocess.run(
            ["psql", "--csv", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", "pgbouncer", "-c", "SHOW STATS"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        rows = csv.DictReader(out.splitlines())
        return sum(int(row["total_xact_count"]) for row in rows if row["database"] == database)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(database_url: str) -> PgBouncer | None:
    """A PgBouncer routing every database of `database_url`'s server, or None without the
    binary. Waits until it accepts connections."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        return None
    server = urlsplit(database_url)
    port = _free_port()
    workdir = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
    workdir.chmod(0o755)  # readable by the user it switches to
    config = workdir / "pgbouncer.ini"
    config.write_text(
        CONFIG.format(
            host=server.hostname or "127.0.0.1",
            port=server.port or 5432,
            user=server.username or "postgres",
            listen_port=port,
        )
    )
    config.chmod(0o644)
    log = workdir / "pgbouncer.log"
    argv = [binary, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(config)]
    process = subprocess.Popen(argv, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"pgbouncer exited: {log.read_text()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return PgBouncer(process, port, log)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"pgbouncer did not listen on {port}: {log.read_text()[-2000:]}")


def wait_for_sessions_to_end(database: str, timeout: float = 10.0) -> None:
    """Until no other session is on `database` (a stopped pooler's server connections)."""
    import psycopg

    admin = urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            (others,) = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            if others == 0:
                return
            time.sleep(0.1)
