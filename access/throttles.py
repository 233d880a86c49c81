"""The product API's rate limit per key, counted in the shared cache (`CACHE_URL`).

DRF counts requests in Django's default cache; left at its in-process default, every
gunicorn worker on every host would give each key a budget of its own (8 workers: 8 times
`PRODUCT_API_RATE`). With `CACHE_URL` on Redis the count is one per key.

DRF's own throttle keeps a list of every request's time in the window and writes it back
whole: at the default 6000/min a busy key's list is 54 kB read, unpickled, pickled and
written on every request, and two processes that read it together both write, losing a
count. Here a key has two integer counters, this window's and the last one's, incremented
atomically (Redis INCR); the last window counts for the part of it still inside the sliding
window (the approximation of Cloudflare's and nginx's limiters).

The limit is a safety net, not a gate: when the cache cannot be reached the request is served
(and logged), rather than every product call failing with the cache.
"""

from __future__ import annotations

import logging
import math

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle

logger = logging.getLogger(__name__)


class WindowCounterThrottle(SimpleRateThrottle):
    """DRF's rate throttle, counting in two windows' integers instead of a list of times."""

    def allow_request(self, request: Request, view: object) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        return True if key is None else self._count(key)

    def _count(self, key: str) -> bool:
        """Count this request in its window; a refused one is taken back out, so a client
        that keeps retrying does not spend the budget it is waiting for."""
        window, self._elapsed = divmod(self.timer(), self.duration)
        current_key = f"{key}:{int(window)}"
        try:
            current = self.cache.incr(current_key)
        except ValueError:  # the window's first request
            self.cache.add(current_key, 0, timeout=2 * self.duration)
            current = self.cache.incr(current_key)
        self._previous = self.cache.get(f"{key}:{int(window) - 1}", 0)
        # previous x (1 - elapsed / duration) + current <= limit, without a division's
        # rounding at the edge.
        remaining = self.duration - self._elapsed
        if (
            self._previous * remaining + current * self.duration
            <= self.num_requests * self.duration
        ):
            return True
        self.cache.decr(current_key)
        self._served = current - 1
        return False

    def wait(self) -> float:
        """Seconds until one more request would be served (the Retry-After header)."""
        room = self.num_requests - self._served - 1
        if room >= 0 and self._previous > 0:  # once the last window has faded enough
            return max(0.0, self.duration * (1 - room / self._previous) - self._elapsed)
        # This window alone is full: into the next, while this one fades from it.
        fade = self.duration * max(0.0, 1 - (self.num_requests - 1) / max(self._served, 1))
        return math.ceil(self.duration - self._elapsed + fade)


class ProductRateThrottle(ScopedRateThrottle, WindowCounterThrottle):
    """`throttle_scope = "product"`'s rate, per API key or user, across processes."""

    def allow_request(self, request: Request, view: object) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("Rate-limit cache unreachable: request served unthrottled.")
            return True
