"""Shared setup for the benchmark scripts: a dedicated database, Redis db 14, timing, tables.

Every script calls `configure()` before importing anything from Django or the project, then
`recreate_database()` (the parent process only) which drops, recreates and migrates
`scheduler_bench`. Nothing else is ever dropped: the name is checked before the DROP.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import redis

ROOT = Path(__file__).resolve().parent.parent
# A harness that must not share the benchmarks' database (the chaos run) sets its own name;
# it must still start with "scheduler_bench", the only names recreate_database() drops.
BENCH_DB = os.environ.get("BENCH_DB", "scheduler_bench")
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DATABASE_URL = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

Row = Sequence[object]


def configure() -> None:
    """Point the project at the bench database and broker (idempotent, also in children)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "scheduler_project.settings"
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["CELERY_BROKER_URL"] = REDIS_URL
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("APIFY_TOKEN", "bench-token")
    # The processes a bench starts run with DEBUG off and refuse development secrets.
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-that-is-not-the-development-default")
    os.environ.setdefault("APIFY_WEBHOOK_SECRET", "bench-webhook-secret-of-at-least-32-chars")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")


def setup_django() -> None:
    configure()
    import django

    django.setup()


def recreate_database() -> None:
    """DROP + CREATE `scheduler_bench`, then migrate it (in this process)."""
    import psycopg
    from django.apps import apps

    if apps.ready:  # a second database in the same process: drop our own connections first
        from django.db import connections

        connections.close_all()
    assert BENCH_DB.startswith("scheduler_bench")  # never anything else
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (BENCH_DB,),
        )
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}"')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    setup_django()
    from django.conf import settings
    from django.core.management import call_command

    assert settings.DATABASES["default"]["NAME"] == BENCH_DB
    call_command("migrate", verbosity=0, interactive=False)


def redis_client() -> redis.Redis:
    import redis

    return redis.Redis.from_url(REDIS_URL)


def flush_broker() -> None:
    redis_client().flushdb()


def queue_names() -> list[str]:
    """Every queue the project publishes to (one per workflow, plus the default)."""
    from django.conf import settings

    return str(settings.ALL_QUEUES).split(",")


def queue_length() -> int:
    client = redis_client()
    return sum(int(client.llen(name)) for name in queue_names())


def queued_messages() -> list[tuple[str, list]]:
    """(task name, positional args) of every Celery message waiting in any queue."""
    import base64
    import json

    messages = []
    client = redis_client()
    for raw in (m for name in queue_names() for m in client.lrange(name, 0, -1)):
        envelope = json.loads(raw)
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        messages.append((envelope["headers"].get("task", ""), json.loads(body)[0]))
    return messages


def sql(query: str, params: Sequence[object] = ()) -> list[tuple]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return list(cursor.fetchall()) if cursor.description else []


@dataclass
class Timer:
    start: float = 0.0
    seconds: float = 0.0


@contextmanager
def timed() -> Iterator[Timer]:
    timer = Timer(start=time.perf_counter())
    try:
        yield timer
    finally:
        timer.seconds = time.perf_counter() - timer.start


def rate(count: float, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def print_table(title: str, header: Row, rows: Sequence[Row]) -> None:
    """A plain-text table, columns padded to their widest cell."""
    cells = [[fmt(c) for c in header], *[[fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = "-+-".join("-" * w for w in widths)
    print(f"\n{title}")
    print(line)
    for n, row in enumerate(cells):
        print(
            " | ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            print(line)
    print(line)


def verdict(ok: bool) -> str:
    return "OK" if ok else "FAIL"
