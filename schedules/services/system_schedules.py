"""Periodic tasks the service itself needs: defined here, in code, and synced into
django-celery-beat's tables.

The registry (`SYSTEM_SCHEDULES`) is the source of truth. `system_schedules_sync` makes the
database agree with it for `conf.get().env`:

- a definition whose environments include this environment is created, or updated when its
  task or interval changed; a required one is (re-)enabled, an optional one
  (`enabled_by_default=False`) starts disabled and keeps whatever an operator chose later;
- a row named with the prefix `global-scheduler: ` that is no longer defined, or is defined
  for other environments only, is disabled, never deleted (its history and an operator's
  edits stay visible in the admin).

Running it again changes nothing. `migrate` runs it (post_migrate) and so does
`init_global_schedules`; `manage.py sync_system_schedules` runs it and prints the changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from scheduler_project import conf, task_names

PREFIX = "global-scheduler: "
ALL_ENVIRONMENTS = conf.ENVIRONMENTS
MANAGED_NOTE = "Managed in code (schedules/services/system_schedules.py); environments: {envs}."


@dataclass(frozen=True)
class SystemSchedule:
    """One code-defined periodic task, run every `every_seconds`, or every `every_knob`
    seconds (a field of scheduler_project.conf, which owns its default)."""

    name: str  # without the prefix
    task: str
    every_seconds: int = 0
    every_knob: str | None = None
    environments: tuple[str, ...] = ALL_ENVIRONMENTS
    enabled_by_default: bool = True  # False: optional, an operator turns it on

    @property
    def full_name(self) -> str:
        return f"{PREFIX}{self.name}"

    def every(self) -> int:
        if self.every_knob is None:
            return self.every_seconds
        return int(getattr(conf.get(), self.every_knob))


SYSTEM_SCHEDULES: tuple[SystemSchedule, ...] = (
    SystemSchedule("dispatch tick", task_names.DISPATCH, every_knob="dispatch_tick_seconds"),
    SystemSchedule("expire custom intervals", task_names.EXPIRE_CUSTOM_INTERVALS, 60),
    SystemSchedule("retry queue", task_names.START_DUE_RETRIES, every_knob="retry_tick_seconds"),
    SystemSchedule("reconcile runs", task_names.RECONCILE, every_knob="reconcile_tick_seconds"),
    SystemSchedule(
        "Apify account capacity", task_names.CAPACITY_REFRESH, every_knob="capacity_refresh_seconds"
    ),
    SystemSchedule("retry cleanup", task_names.RETRY_CLEANUP, 3600),
    SystemSchedule("prune history", task_names.PRUNE_HISTORY, 3600),
    SystemSchedule("alerts", task_names.EVALUATE_ALERTS, every_knob="alert_tick_seconds"),
    # The outboxes' safety net (retries, a lost publish); new rows are sent at once.
    SystemSchedule(
        "webhook deliveries", task_names.SEND_DELIVERIES, every_knob="webhook_tick_seconds"
    ),
    SystemSchedule("alert deliveries", task_names.SEND_ALERTS, every_knob="webhook_tick_seconds"),
)


@dataclass
class SyncReport:
    environment: str
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    tasks: list[PeriodicTask] = field(default_factory=list)  # this environment's, after sync

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)


def _interval(every: int) -> IntervalSchedule:
    # IntervalSchedule has no unique constraint: reuse the first matching row.
    fields = {"every": every, "period": IntervalSchedule.SECONDS}
    existing = IntervalSchedule.objects.filter(**fields).order_by("id").first()
    return existing or IntervalSchedule.objects.create(**fields)


def _sync_one(definition: SystemSchedule, report: SyncReport) -> None:
    interval = _interval(definition.every())
    description = MANAGED_NOTE.format(envs=", ".join(definition.environments))
    periodic = PeriodicTask.objects.select_for_update().filter(name=definition.full_name).first()
    if periodic is None:
        periodic = PeriodicTask.objects.create(
            name=definition.full_name,
            task=definition.task,
            interval=interval,
            enabled=definition.enabled_by_default,
            description=description,
        )
        report.created.append(definition.full_name)
        report.tasks.append(periodic)
        return
    wanted = {
        "task": definition.task,
        "interval_id": interval.pk,
        "crontab_id": None,
        "solar_id": None,
        "clocked_id": None,
        "one_off": False,
        "description": description,
    }
    if definition.enabled_by_default:
        wanted["enabled"] = True  # a required task always runs; optional ones keep their state
    changes = {k: v for k, v in wanted.items() if getattr(periodic, k) != v}
    if changes:
        for key, value in changes.items():
            setattr(periodic, key, value)
        periodic.save()  # save(), not update(): django-celery-beat's beat notices the change
        report.updated.append(definition.full_name)
    else:
        report.unchanged.append(definition.full_name)
    report.tasks.append(periodic)


@transaction.atomic
def system_schedules_sync(
    *, environment: str | None = None, definitions: tuple[SystemSchedule, ...] | None = None
) -> SyncReport:
    """Make django-celery-beat agree with the code-defined registry for `environment`
    (default `conf.get().env`). Idempotent."""
    environment = environment or conf.get().env
    conf.check_choice("SCHEDULER_ENV", environment)  # before anything is disabled
    definitions = SYSTEM_SCHEDULES if definitions is None else definitions
    report = SyncReport(environment=environment)
    wanted = [d for d in definitions if environment in d.environments]
    for definition in wanted:
        _sync_one(definition, report)
    keep = {d.full_name for d in wanted}
    stale = (
        PeriodicTask.objects.select_for_update()
        .filter(name__startswith=PREFIX, enabled=True)
        .exclude(name__in=keep)
        .order_by("name")
    )
    for periodic in stale:
        periodic.enabled = False
        periodic.save()
        report.disabled.append(periodic.name)
    return report


def system_periodic_tasks_ensure() -> list[PeriodicTask]:
    """The same sync (kept for post_migrate and init_global_schedules): this environment's
    system periodic tasks, in registry order."""
    return system_schedules_sync().tasks
