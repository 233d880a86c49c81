"""The loop's histograms (scheduler_project.observations) as Prometheus histogram families:
cumulative buckets per platform, read from Redis at scrape time."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import HistogramMetricFamily

from scheduler_project.observations import HISTOGRAMS, KEY_PREFIX, Histogram, histogram_client


def _family(client: redis.Redis | None, histogram: Histogram) -> HistogramMetricFamily:
    family = HistogramMetricFamily(
        f"scheduler_{histogram.name}", histogram.doc, labels=["platform"]
    )
    prefix = f"{KEY_PREFIX}{histogram.name}:"
    keys = sorted(client.scan_iter(match=f"{prefix}*")) if client is not None else []
    for key in keys:
        fields = {k.decode(): v.decode() for k, v in client.hgetall(key).items()}
        running, buckets = 0.0, []
        for bound in (*(f"{b:g}" for b in histogram.buckets), "+Inf"):
            running += float(fields.get(f"le:{bound}", 0))
            buckets.append((bound, running))
        platform = key.decode()[len(prefix) :]
        family.add_metric([platform], buckets, sum_value=float(fields.get("sum", 0)))
    return family


def histogram_families() -> Iterator[HistogramMetricFamily]:
    """Every histogram, with no samples when nothing was observed (or Redis is away)."""
    client = histogram_client()
    for histogram in HISTOGRAMS:
        try:
            yield _family(client, histogram)
        except redis.RedisError:
            yield HistogramMetricFamily(
                f"scheduler_{histogram.name}", histogram.doc, labels=["platform"]
            )
