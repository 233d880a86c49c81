"""A production WSGI server (gunicorn) for load benchmarks, and wrk's output parsed.

Only 127.0.0.1 is ever bound or targeted; gunicorn is stopped on the way out, also on error.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from _common import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def gunicorn(config: str, port: int, env: dict[str, str]) -> Iterator[str]:
    """`config` is sync:<workers> or gthread:<workers>x<threads>; yields the base URL."""
    kind, _, size = config.partition(":")
    workers, _, threads = size.partition("x")
    cmd = [sys.executable, "-m", "gunicorn", "scheduler_project.wsgi:application"]
    cmd += ["--bind", f"127.0.0.1:{port}", "--workers", workers, "--worker-class", kind]
    cmd += ["--threads", threads or "1", "--log-level", "warning", "--chdir", str(ROOT)]
    env = os.environ | {"DEBUG": "false", "ALLOWED_HOSTS": "127.0.0.1"} | env
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while True:  # any HTTP answer means a worker has loaded Django
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/"):
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not come up ({proc.returncode})")
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()  # SIGTERM to our own master: graceful stop of its workers
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def millis(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50: float
    p99: float
    requests: int
    non_2xx: int
    socket_errors: str


def parse_wrk(text: str) -> WrkResult:
    pct = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", text, re.M))
    errors = re.search(r"Socket errors: (.*)$", text, re.M)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    return WrkResult(
        rps=float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),  # type: ignore[union-attr]
        p50=millis(pct["50"]),
        p99=millis(pct["99"]),
        requests=int(re.search(r"(\d+) requests in", text).group(1)),  # type: ignore[union-attr]
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1) if errors else "none",
    )
