"""Probes for deployers (SPEC §4 "Unauthenticated"): liveness, readiness and Prometheus.

Plain Django views, outside DRF: no authentication classes run, and they stay out of the
OpenAPI schema, which documents the JSON API only.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from monitoring.metrics import metrics_registry
from scheduler_project import conf

logger = logging.getLogger(__name__)


def database_check() -> None:
    """`SELECT 1` on every configured database; raises when one does not answer."""
    for alias in connections:
        with connections[alias].cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()


def broker_check() -> None:
    """Connect to the Celery broker once, with a short timeout; raises when unreachable."""
    timeout = conf.get().readyz_timeout_seconds
    connection = Connection(
        settings.CELERY_BROKER_URL,
        transport_options=getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {},
        connect_timeout=timeout,
    )
    try:
        connection.ensure_connection(
            max_retries=1, interval_start=0, interval_step=0, timeout=timeout
        )
    finally:
        connection.release()


READINESS_CHECKS: dict[str, Callable[[], None]] = {
    "database": database_check,
    "broker": broker_check,
}


def readiness() -> tuple[bool, dict[str, dict[str, str]]]:
    """Run every dependency check; the answer names the failed ones (the exception's class
    only: details go to the log, not to an unauthenticated caller)."""
    results: dict[str, dict[str, str]] = {}
    for name, check in READINESS_CHECKS.items():
        try:
            check()
        except Exception as exc:
            logger.warning("readiness: %s unreachable: %s", name, exc)
            results[name] = {"status": "error", "error": type(exc).__name__}
        else:
            results[name] = {"status": "ok"}
    return all(r["status"] == "ok" for r in results.values()), results


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the process serves requests. Touches no dependency."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: 200 when the database and the broker answer, else 503 naming the failed."""
    ready, checks = readiness()
    body = {
        "status": "ok" if ready else "unavailable",
        "checks": checks,
        "failed": [name for name, r in checks.items() if r["status"] != "ok"],
    }
    return JsonResponse(body, status=200 if ready else 503)


def _token_ok(request: HttpRequest) -> bool:
    token = conf.get().metrics_token
    if not token:
        return True
    keyword, _, given = request.headers.get("Authorization", "").partition(" ")
    return keyword == "Bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


@never_cache
@require_safe
def prometheus_metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text format, read from the database at scrape time. When `METRICS_TOKEN`
    is set, `Authorization: Bearer <token>` is required."""
    if not _token_ok(request):
        response = JsonResponse({"detail": "A valid bearer token is required."}, status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
