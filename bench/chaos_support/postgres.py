"""A PostgreSQL cluster of the chaos run's own (like its Redis), so the driver can restart the
database itself mid-run: `pg_ctl restart -m fast` (clients are disconnected, the checkpoint
is written) and `-m immediate` (a crash: no checkpoint, WAL replay on start). The failover
form (chaos_support/failover.py) adds a streaming standby of it.

Debian's server binaries (/usr/lib/postgresql/<version>/bin). initdb and the postmaster refuse
to run as root: as root they run as the `postgres` user (runuser), in a directory it owns.
"""

from __future__ import annotations

import glob
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",  # every process of the stack, the pooler's servers, the harness
    "unix_socket_directories": "",
    "fsync": "on",
    # A streaming standby can be made of it (chaos_support/failover.py).
    "wal_level": "replica",
    "max_wal_senders": "5",
}


def bindir() -> Path:
    """Debian's newest server binaries."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if not found:
        raise SystemExit("no PostgreSQL server binaries (Debian: apt-get install postgresql)")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


def _as_postgres(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@dataclass
class OwnPostgres:
    workdir: Path
    port: int
    name: str = "pgdata"  # its data directory in `workdir`
    # Given on the command line only, so a standby copied from it does not inherit them.
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def datadir(self) -> Path:
        return self.workdir / self.name

    @property
    def logfile(self) -> Path:
        return self.workdir / ("postgres.log" if self.name == "pgdata" else f"{self.name}.log")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        home = self.workdir / "pg"
        home.mkdir()
        if os.geteuid() == 0:
            self.workdir.chmod(0o755)
            shutil.chown(home, "postgres", "postgres")
        self.workdir = home
        self.run(
            [str(bindir() / "initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres"],
        )

    def start(self) -> None:
        # pg_ctl hands -o to a shell: every value is quoted (an empty one, a `*`).
        settings = {**SETTINGS, **self.extra}
        options = " ".join(f"-c {k}={shlex.quote(v)}" for k, v in settings.items())
        options += f" -p {self.port}"
        self.ctl("start", "-o", options, "-l", str(self.logfile))

    def restart(self, mode: str) -> float:
        """Stop in `mode` (fast or immediate) and start again; seconds it was unreachable."""
        started = time.monotonic()
        self.ctl("stop", "-m", mode)
        self.start()
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> None:
        self.ctl("stop", "-m", mode)

    def running(self) -> bool:
        return (self.datadir / "postmaster.pid").exists()

    def log_tail(self, lines: int = 30) -> str:
        log = self.logfile
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def ctl(self, *args: str) -> None:
        """`pg_ctl` on this cluster, waiting for the action to complete."""
        self.run([str(bindir() / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", *args])

    @staticmethod
    def run(argv: list[str]) -> None:
        """A server binary, as the `postgres` user when we are root."""
        subprocess.run(_as_postgres(argv), check=True, capture_output=True, timeout=120)
