"""A gunicorn of the test's own, as one host of the web tier (its own processes, memory and
database connections), on the test database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def web_server(workers: int = 1, **env: str) -> Iterator[str]:
    """Its base URL once it answers /healthz; `env` on top of production-like settings."""
    port = free_port()
    environ = os.environ | {
        "DEBUG": "false",
        "SECRET_KEY": "a-test-secret-key-of-more-than-thirty-two-characters",
        "APIFY_WEBHOOK_SECRET": "a-test-webhook-secret-of-more-than-32-characters",
        "ALLOWED_HOSTS": "127.0.0.1",
        "DATABASE_URL": database_url(),
        **env,
    }
    command = [sys.executable, "-m", "gunicorn", "scheduler_project.wsgi:application"]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--log-level", "warning"]
    server = subprocess.Popen(command, env=environ, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert server.poll() is None and time.monotonic() < deadline, "no gunicorn"
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)
