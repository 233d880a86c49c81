"""A real Celery worker and beat, as subprocesses on Redis, against the test database, which
they reach through a PgBouncer in transaction pooling mode when Debian's pgbouncer is
installed (tests/pgbouncer.py; `.ci/run` installs it)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection

from tests import pgbouncer
from tests.fakes.apify_server import FakeApify

REPO = Path(__file__).resolve().parents[2]
SECRET = "integration-webhook-secret-of-at-least-32-chars"
TOKEN = "integration-token"


@pytest.fixture(scope="session")
def pooler(django_db_setup: None) -> Iterator[pgbouncer.PgBouncer | None]:
    """One PgBouncer for the session, in front of the suite's PostgreSQL (None without it);
    after the test database exists and stopped before it is dropped."""
    bouncer = pgbouncer.start(os.environ["DATABASE_URL"])
    yield bouncer
    if bouncer is not None:
        bouncer.stop()
        # Its server connections end a moment after it does; the test database is dropped
        # next, which PostgreSQL refuses while any session remains on it.
        pgbouncer.wait_for_sessions_to_end(connection.settings_dict["NAME"])


def database_env(bouncer: pgbouncer.PgBouncer | None) -> dict[str, str]:
    """DATABASE_URL (and the pooling switch) for a process of the service under test."""
    db = connection.settings_dict
    direct = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    if bouncer is None:
        return {"DATABASE_URL": direct}
    return {"DATABASE_URL": bouncer.url_for(direct), "DATABASE_TRANSACTION_POOLING": "true"}


@pytest.fixture
def fake() -> Iterator[FakeApify]:
    with FakeApify(token=TOKEN) as server:
        yield server


def wait_for(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


class CeleryStack:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.processes = env, logs, []

    def start(self) -> None:
        self.start_worker()
        self._spawn(
            "beat",
            [
                "beat",
                "--max-interval=1",
                "--loglevel=INFO",
                f"--schedule={self.logs / 'beat-schedule'}",
            ],
        )

    def start_worker(
        self, name: str = "worker", queues: str | None = None, **env: str
    ) -> subprocess.Popen:
        """A worker as a user starts it: with no -Q (every queue) unless `queues` narrows it;
        `env` overrides settings for this worker only."""
        narrow = ["-Q", queues] if queues else []
        args = [
            "worker",
            "--pool=solo",
            *narrow,
            "--without-gossip",
            "--without-mingle",
            "--loglevel=INFO",
            f"--hostname={name}@%h",
        ]
        return self._spawn(name, args, env)

    def _spawn(
        self, name: str, args: list[str], env: dict[str, str] | None = None
    ) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "scheduler_project", *args],
            cwd=REPO,
            env={**self.env, **(env or {})},
            stdout=(self.logs / f"{name}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        return process

    def dump_logs(self) -> str:
        return "\n".join(
            f"--- {log.name}\n{log.read_text()[-4000:]}" for log in self.logs.glob("*.log")
        )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def celery_stack(
    fake: FakeApify, tmp_path: Path, settings, pooler: pgbouncer.PgBouncer | None
) -> Iterator[CeleryStack]:
    """Worker + beat sharing the test database, the fake Apify and a 1 s dispatch tick."""
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    settings.DISPATCH_TICK_SECONDS = 1
    settings.APIFY_WEBHOOK_SECRET = SECRET
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        **database_env(pooler),
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "APIFY_API_URL": fake.url,
        "APIFY_TOKEN": TOKEN,
        "WEBHOOK_BASE_URL": settings.WEBHOOK_BASE_URL,
        "APIFY_WEBHOOK_SECRET": SECRET,
        "DISPATCH_TICK_SECONDS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    stack = CeleryStack(env, tmp_path)
    yield stack
    stack.stop()
