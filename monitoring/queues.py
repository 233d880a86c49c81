"""What waits in each Celery queue: backlog and the age of its oldest message, read from the
broker itself (Redis, or the embedded filesystem broker).

Every message carries the moment it was published (a header set in
scheduler_project/celery.py), so the age is the broker's truth, not a guess from the
database. A queue whose oldest message is older than two dispatch ticks has work nobody
consumes: the `queues` health check names it.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from kombu import Connection

from scheduler_project.celery import PUBLISHED_AT_HEADER


@dataclass(frozen=True)
class QueueState:
    name: str
    backlog: int
    oldest_age_seconds: float | None  # None when empty


def queue_names() -> list[str]:
    return settings.ALL_QUEUES.split(",")


def _age(published_at: object, now: float) -> float | None:
    try:
        return max(now - float(published_at), 0.0)
    except (TypeError, ValueError):
        return None


def _redis_states(url: str, names: list[str]) -> list[QueueState]:
    now = time.time()
    with Connection(url, connect_timeout=2) as connection:
        client = connection.default_channel.client
        pipe = client.pipeline()
        for name in names:
            pipe.llen(name)
            pipe.lindex(name, -1)  # LPUSH in, BRPOP out: the oldest is at the tail
        replies = pipe.execute()
    states = []
    for index, name in enumerate(names):
        backlog, oldest = replies[2 * index], replies[2 * index + 1]
        age = None
        if oldest is not None:
            try:
                headers = json.loads(oldest).get("headers") or {}
            except (ValueError, AttributeError):
                headers = {}
            age = _age(headers.get(PUBLISHED_AT_HEADER), now)
        states.append(QueueState(name, int(backlog), age))
    return states


def _filesystem_states(folder: str, names: list[str]) -> list[QueueState]:
    """kombu's filesystem transport: one file per message, `<ms>_<uuid>.<queue>.msg`."""
    now = time.time()
    backlog = dict.fromkeys(names, 0)
    oldest: dict[str, float] = {}
    for entry in os.scandir(folder) if Path(folder).is_dir() else []:
        queue = entry.name.partition(".")[2].removesuffix(".msg")
        if queue in backlog and entry.is_file():
            backlog[queue] += 1
            try:
                mtime = entry.stat().st_mtime
            except FileNotFoundError:  # consumed meanwhile
                continue
            oldest[queue] = min(oldest.get(queue, mtime), mtime)
    return [QueueState(n, backlog[n], _age(oldest[n], now) if n in oldest else None) for n in names]


def queue_states() -> list[QueueState]:
    """Backlog and oldest age of every queue the project routes to. Raises when the broker
    cannot be read."""
    url = settings.CELERY_BROKER_URL
    names = queue_names()
    if url.startswith(("redis://", "rediss://")):
        return _redis_states(url, names)
    if url.startswith("filesystem://"):
        return _filesystem_states(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"], names)
    raise ValueError(f"Reading queues of this broker is not supported: {url.split(':')[0]}")
