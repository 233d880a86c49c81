from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError

from scheduler_project.cli import SchedulerCommand
from schedules.services.system_schedules import system_schedules_sync


class Command(SchedulerCommand):
    help = (
        "Sync the code-defined system periodic tasks into django-celery-beat for SCHEDULER_ENV: "
        "create or update this environment's, disable (never delete) the stale ones. "
        "Idempotent; migrate runs it too."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            report = system_schedules_sync()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        for name in report.created:
            self.stdout.write(f"created:  {name}")
        for name in report.updated:
            self.stdout.write(f"updated:  {name}")
        for name in report.disabled:
            self.stdout.write(f"disabled: {name}")
        enabled = sum(1 for t in report.tasks if t.enabled)
        self.stdout.write(
            self.style.SUCCESS(
                f"Environment {report.environment}: {len(report.created)} created, "
                f"{len(report.updated)} updated, {len(report.disabled)} disabled, "
                f"{len(report.unchanged)} unchanged; {enabled} of {len(report.tasks)} "
                "system tasks enabled."
            )
        )
