"""Histograms of what the loop does (dispatch lateness, run and ingest durations), observed
by whichever worker saw it and kept in Redis (the broker), so `/metrics` on any web process
serves the same cumulative counts. An observation is one pipelined round trip, sent after
the commit of what it measures; with Redis unreachable (or the embedded filesystem broker)
it is dropped, never an error of the work itself."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import redis
from django.conf import settings
from django.db import transaction

logger = logging.getLogger(__name__)

KEY_PREFIX = "scheduler:histogram:"


@dataclass(frozen=True)
class Histogram:
    name: str
    doc: str
    buckets: tuple[float, ...]  # upper bounds, +Inf implied


DISPATCH_LATENESS = Histogram(
    "dispatch_lateness_seconds",
    "Seconds from an execution's slot to its Apify run's start.",
    (1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
RUN_DURATION = Histogram(
    "run_duration_seconds",
    "Seconds from an Apify run's start to its ingest.",
    (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200),
)
INGEST_DURATION = Histogram(
    "ingest_duration_seconds",
    "Seconds one ingest took (fetch the run and its dataset, attribute, store).",
    (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
HISTOGRAMS = (DISPATCH_LATENESS, RUN_DURATION, INGEST_DURATION)


@lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis | None:
    if not url.startswith(("redis://", "rediss://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def histogram_client() -> redis.Redis | None:
    return _client(settings.CELERY_BROKER_URL)


def bucket_of(histogram: Histogram, value: float) -> str:
    """The field of the smallest bucket holding `value` (counts are cumulated on export)."""
    for bound in histogram.buckets:
        if value <= bound:
            return f"le:{bound:g}"
    return "le:+Inf"


def _record(histogram: Histogram, value: float, platform: str) -> None:
    client = histogram_client()
    if client is None:
        return
    key = f"{KEY_PREFIX}{histogram.name}:{platform}"
    try:
        pipe = client.pipeline(transaction=False)
        pipe.hincrby(key, bucket_of(histogram, value), 1)
        pipe.hincrbyfloat(key, "sum", value)
        pipe.hincrby(key, "count", 1)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not record %s", histogram.name, extra={"action": "metrics"})


def observe(histogram: Histogram, value: float, *, platform: str) -> None:
    """Count `value` once the current transaction commits (nothing if it rolls back)."""
    value = max(float(value), 0.0)
    transaction.on_commit(lambda: _record(histogram, value, platform))
