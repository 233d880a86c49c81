"""Monitoring: health graded from the domain apps' reads, metrics (JSON and Prometheus),
the liveness and readiness probes, and `scheduler_health`. It reads the domain apps; none
of them imports it."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    name = "monitoring"
    verbose_name = "Monitoring"
