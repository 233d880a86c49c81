"""A PostgreSQL cluster of the chaos run's own (like its Redis), so the driver can restart the
database itself mid-run: `pg_ctl restart -m fast` (clients are disconnected, the checkpoint
is written) and `-m immediate` (a crash: no checkpoint, WAL replay on start).

Debian's server binaries (/usr/lib/postgresql/<version>/bin). initdb and the postmaster refuse
to run as root: as root they run as the `postgres` user (runuser), in a directory it owns.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

SETTINGS = {
    "listen_addresses": "127.0.0.1",
    "max_connections": "300",  # every process of the stack, the pooler's servers, the harness
    "unix_socket_directories": "",
    "fsync": "on",
}


def _bindir() -> Path:
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

    @property
    def datadir(self) -> Path:
        return self.workdir / "pgdata"

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
        self._run(
            [str(_bindir() / "initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres"],
        )

    def start(self) -> None:
        # pg_ctl hands -o to a shell: an empty value must be quoted.
        options = " ".join(f"-c {k}={v or repr('')}" for k, v in SETTINGS.items())
        options += f" -p {self.port}"
        self._ctl("start", "-o", options, "-l", str(self.workdir / "postgres.log"))

    def restart(self, mode: str) -> float:
        """Stop in `mode` (fast or immediate) and start again; seconds it was unreachable."""
        started = time.monotonic()
        self._ctl("stop", "-m", mode)
        self.start()
        return time.monotonic() - started

    def stop(self) -> None:
        self._ctl("stop", "-m", "fast")

    def log_tail(self, lines: int = 30) -> str:
        log = self.workdir / "postgres.log"
        return (
            "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""
        )

    def _ctl(self, *args: str) -> None:
        self._run([str(_bindir() / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", *args])

    @staticmethod
    def _run(argv: list[str]) -> None:
        subprocess.run(_as_postgres(argv), check=True, capture_output=True, timeout=120)
