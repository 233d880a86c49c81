"""The loop: global schedules (groups), batches, mappings and executions; assignment,
dispatch, execution start (the only Apify caller: apify.py), ingest, reconcile, retry runs,
validation and the code-defined system schedules."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_system_tasks(sender: AppConfig, **kwargs: object) -> None:
    from schedules.services.system_schedules import system_periodic_tasks_ensure

    system_periodic_tasks_ensure()


class SchedulesConfig(AppConfig):
    name = "schedules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # After `migrate`, the dispatch tick exists: no deployment step can forget it.
        post_migrate.connect(_ensure_system_tasks, sender=self)
