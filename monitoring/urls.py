"""Probes at the site root: /healthz, /readyz, /metrics (unauthenticated; see probes.py)."""

from django.urls import path

from monitoring.probes import healthz, prometheus_metrics, readyz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", prometheus_metrics, name="metrics"),
]
