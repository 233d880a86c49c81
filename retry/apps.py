"""The per-business retry queue: entries, backoff policy, recording outcomes, claiming due
entries, force retry, clean-up. It points at executions; schedules starts their runs."""

from django.apps import AppConfig


class RetryConfig(AppConfig):
    name = "retry"
    default_auto_field = "django.db.models.BigAutoField"
