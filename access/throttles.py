"""The product API's rate limit per key, counted in the shared cache (`CACHE_URL`).

DRF counts requests in Django's default cache; left at its in-process default, every
gunicorn worker on every host would give each key a budget of its own (8 workers: 8 times
`PRODUCT_API_RATE`). With `CACHE_URL` on Redis the count is one per key. The limit is a
safety net, not a gate: when the cache cannot be reached the request is served (and logged),
rather than every product call failing with the cache.
"""

from __future__ import annotations

import logging

from redis.exceptions import RedisError
from rest_framework.request import Request
from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class ProductRateThrottle(ScopedRateThrottle):
    """`throttle_scope = "product"`'s rate, per API key or user, across processes."""

    def allow_request(self, request: Request, view: object) -> bool:
        try:
            return super().allow_request(request, view)
        except (RedisError, OSError):
            logger.warning("Rate-limit cache unreachable: request served unthrottled.")
            return True
