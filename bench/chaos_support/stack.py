"""The processes of a chaos run: a Redis server of its own, gunicorn for the webhook, Celery
beats and workers, `run_dispatcher` loops. Each can be SIGKILLed and started again by name.

Every process gets PGAPPNAME `chaos-<name>`, so the driver can find its database connections
in pg_stat_activity, and, with a skew, the LD_PRELOAD shim that shifts its wall clock.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIM_SOURCE = Path(__file__).with_name("clock_skew.c")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_skew_shim(workdir: Path) -> Path:
    """Compile the wall-clock shim (gcc is on every machine kind of this project)."""
    target = workdir / "clock_skew.so"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-O2", "-o", str(target), str(SHIM_SOURCE), "-ldl"],
        check=True,
    )
    return target


@dataclass
class Spec:
    name: str
    kind: str  # redis, web, beat, dispatcher, worker
    argv: list[str]
    skew_seconds: float = 0.0


@dataclass
class Stack:
    env: dict[str, str]
    logs: Path
    shim: Path | None = None
    specs: dict[str, Spec] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    restarts: dict[str, int] = field(default_factory=dict)  # exits nobody asked for

    def add(self, spec: Spec) -> None:
        self.specs[spec.name] = spec

    def start(self, name: str) -> None:
        spec = self.specs[name]
        env = {**self.env, "PGAPPNAME": f"chaos-{name}"}
        if spec.skew_seconds and self.shim is not None:
            env["LD_PRELOAD"] = str(self.shim)
            env["CLOCK_SKEW_SECONDS"] = str(spec.skew_seconds)
        log = (self.logs / f"{name}.log").open("a")
        # Its own process group: a SIGKILL takes the worker's pool children with it, as when
        # a container or a machine dies.
        self.processes[name] = subprocess.Popen(
            spec.argv,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, name: str) -> None:
        process = self.processes[name]
        _kill_group(process)
        process.wait(timeout=10)

    def names(self, *kinds: str) -> list[str]:
        return [n for n, s in self.specs.items() if s.kind in kinds]

    def revive_dead(self, exclude: set[str]) -> list[str]:
        """Start again every process that exited by itself (a supervisor would)."""
        revived = []
        for name, process in self.processes.items():
            if name not in exclude and process.poll() is not None:
                self.restarts[name] = self.restarts.get(name, 0) + 1
                self.start(name)
                revived.append(name)
        return revived

    def stop(self, kinds: tuple[str, ...] | None = None) -> None:
        chosen = [
            (n, p)
            for n, p in self.processes.items()
            if kinds is None or self.specs[n].kind in kinds
        ]
        for _, process in chosen:
            if process.poll() is None:
                process.terminate()
        for _, process in chosen:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _kill_group(process)  # pool children a crashed leader left behind

    def tail(self, lines: int = 30) -> str:
        parts = []
        for log in sorted(self.logs.glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(parts)


def _kill_group(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def redis_spec(port: int, workdir: Path) -> Spec:
    binary = shutil.which("redis-server") or "redis-server"
    return Spec(
        "redis",
        "redis",
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--protected-mode",
            "no",
        ],
    )


def web_spec(port: int) -> Spec:
    return Spec(
        "web",
        "web",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "scheduler_project.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "2",
            "--access-logfile",
            "-",
            "--access-logformat",
            "%(m)s %(U)s %(s)s",
        ],
    )


def celery_spec(name: str, kind: str, args: list[str], skew: float = 0.0) -> Spec:
    return Spec(
        name, kind, [sys.executable, "-m", "celery", "-A", "scheduler_project", *args], skew
    )


def beat_spec(name: str, workdir: Path, skew: float = 0.0) -> Spec:
    return celery_spec(
        name,
        "beat",
        ["beat", "--max-interval=1", "--loglevel=INFO", f"--schedule={workdir / name}"],
        skew,
    )


def worker_spec(name: str, queues: str, skew: float = 0.0, concurrency: int = 3) -> Spec:
    return celery_spec(
        name,
        "worker",
        [
            "worker",
            "--pool=prefork",
            f"--concurrency={concurrency}",
            "-Q",
            queues,
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "--loglevel=INFO",
            f"--hostname={name}@%h",
        ],
        skew,
    )


def dispatcher_spec(name: str, tick: float, skew: float = 0.0) -> Spec:
    argv = [sys.executable, "manage.py", "run_dispatcher", "--interval", str(tick)]
    return Spec(name, "dispatcher", argv, skew)


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def python_env(**overrides: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "NO_PROXY": "127.0.0.1,localhost"}
    env.update(overrides)
    return env
