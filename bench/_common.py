"""Shared setup for the benchmark scripts: a dedicated database and Redis db, timing, tables.

Every script calls `configure()` before importing anything from Django or the project, then
`recreate_database()` (the parent process only) which drops, recreates and migrates the bench
database. Names derive from the caller's `DATABASE_URL` / `CELERY_BROKER_URL` (the suite's, by
default `scheduler` and Redis db 15), so two checkouts with their own names never meet: database
`<name>_bench` (+ a script's `BENCH_DB_SUFFIX`), Redis db one below the broker's. Nothing else is
ever dropped: the name is checked before the DROP.
"""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import redis


def _postgres_or(default: str) -> str:
    """The caller's DATABASE_URL when it is PostgreSQL (the suite's or an operator's), else
    the default server: the benchmarks never run on the embedded SQLite."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else default


def _redis_db_below(broker_url: str) -> str:
    """The broker's Redis server, one db below the broker's (the suite's 15 -> 14)."""
    parts = urlsplit(broker_url)
    db = int(parts.path.lstrip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(db - 1) % 16}"))


ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/scheduler"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
# The caller's own URLs, kept across configure() (which points DATABASE_URL at the bench
# database) so that the processes a bench starts derive the same names.
_BASE_DB = os.environ.setdefault("BENCH_BASE_DATABASE_URL", _postgres_or(DEFAULT_DATABASE_URL))
_BASE_BROKER = os.environ.setdefault(
    "BENCH_BASE_BROKER_URL", os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
)
# A harness that must not share the benchmarks' database (the chaos run) sets a suffix.
BENCH_DB = f"{urlsplit(_BASE_DB).path.lstrip('/')}_bench{os.environ.get('BENCH_DB_SUFFIX', '')}"
PG_ADMIN_URL = urlunsplit(urlsplit(_BASE_DB)._replace(path="/postgres"))
DATABASE_URL = urlunsplit(urlsplit(_BASE_DB)._replace(path=f"/{BENCH_DB}"))
REDIS_URL = os.environ.get("BENCH_REDIS_URL") or _redis_db_below(_BASE_BROKER)

Row = Sequence[object]


def is_bench_database(name: str) -> bool:
    """Only these names are ever dropped: `<name>_bench` or `<name>_bench_<suffix>`."""
    return re.fullmatch(r"[a-z0-9_]+_bench(_[a-z0-9]+)?", name) is not None


def database_url(name: str) -> str:
    """The bench server's URL for another database."""
    return urlunsplit(urlsplit(_BASE_DB)._replace(path=f"/{name}"))


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


def recreate_database(name: str = BENCH_DB) -> None:
    """DROP + CREATE a bench database (the script's own by default), then migrate it (in
    this process, which it points at that database)."""
    import psycopg
    from django.apps import apps

    if apps.ready:  # a second database in the same process: drop our own connections first
        from django.db import connections

        connections.close_all()
    assert is_bench_database(name), name  # never anything else
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        # FORCE ends every other session on it, a pooler's idle server connections included.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    configure()
    os.environ["DATABASE_URL"] = database_url(name)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    assert settings.DATABASES["default"]["NAME"] == name
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


def copy_seconds(tables: Sequence[tuple[str, Sequence[str], Sequence[Row]]]) -> float:
    """Seconds for PostgreSQL to take prepared rows by bare COPYs (parents first), in one
    transaction, commit and deferred foreign-key checks included: what the database itself
    can absorb, the ceiling of the path that wrote them. The caller empties the tables."""
    from django.db import connection, transaction

    with timed() as t, transaction.atomic(), connection.cursor() as cursor:
        for table, columns, rows in tables:
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    return t.seconds


def truncate(*tables: str) -> None:
    """Empty tables (CASCADE: their dependants too) and refresh their statistics."""
    sql(f"TRUNCATE {', '.join(tables)} CASCADE")
    for table in tables:
        sql(f"VACUUM ANALYZE {table}")


def copy_ceiling(tables: Sequence[str], given: Sequence[str] = ()) -> float:
    """Seconds of a bare COPY of every row the real path left in `tables` (parents first),
    every column, prepared as text, into the same tables of a fresh database (empty tables
    and no statistics, as the real path found them; a TRUNCATE would leave statistics that
    make the deferred foreign-key checks scan). `given`: tables whose rows the real path
    found there (teams, groups), copied back first, untimed. The database ends as it was."""
    from django.apps import apps

    def rows(table: str) -> tuple[str, list[str], list[tuple]]:
        model = next(m for m in apps.get_models() if m._meta.db_table == table)
        columns = [f.column for f in model._meta.concrete_fields]
        text = ", ".join(f"{c}::text" for c in columns)
        return table, columns, sql(f"SELECT {text} FROM {table} ORDER BY 1")

    setup, timed_copies = [rows(t) for t in given], [rows(t) for t in tables]
    recreate_database()
    copy_seconds(setup)
    return copy_seconds(timed_copies)


def ceiling(
    label: str, real_per_s: float, copy_per_s: float, target: float, unit: str
) -> tuple[list[Row], str]:
    """The COPY ceiling of the same rows and the real path's share of it, as table rows
    (bench/report.py reads them), and a verdict line: the real rate against its goal."""
    ratio = real_per_s / copy_per_s
    rows: list[Row] = [
        (f"ceiling: raw COPY of the same rows ({unit}/s)", copy_per_s, "", ""),
        ("real path / COPY ceiling", f"{ratio:.2f}", "", ""),
    ]
    line = (
        f"verdict: {label} {real_per_s:,.0f} {unit}/s against the goal of >= {target:,.0f}/s: "
        f"{verdict(real_per_s >= target)} (raw COPY of the same rows {copy_per_s:,.0f}/s, "
        f"ratio {ratio:.2f})"
    )
    return rows, line


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
