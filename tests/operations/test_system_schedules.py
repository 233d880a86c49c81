"""System periodic tasks: defined in code, synced into django-celery-beat per SCHEDULER_ENV."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from schedules.services.system_schedules import (
    PREFIX,
    SYSTEM_SCHEDULES,
    SystemSchedule,
    system_periodic_tasks_ensure,
    system_schedules_sync,
)

NAMES = [
    "global-scheduler: dispatch tick",
    "global-scheduler: expire custom intervals",
    "global-scheduler: retry queue",
    "global-scheduler: reconcile runs",
    "global-scheduler: Apify account capacity",
    "global-scheduler: retry cleanup",
    "global-scheduler: prune history",
    "global-scheduler: alerts",
    "global-scheduler: webhook deliveries",
    "global-scheduler: alert deliveries",
]
OPTIONAL = SystemSchedule(
    "optional report", "schedules.tasks.optional", 300, enabled_by_default=False
)
PRODUCTION_ONLY = SystemSchedule(
    "prod only", "schedules.tasks.prod", 120, environments=("production",)
)


def sync() -> str:
    out = StringIO()
    call_command("sync_system_schedules", stdout=out)
    return out.getvalue()


def enabled() -> dict[str, bool]:
    return dict(PeriodicTask.objects.filter(name__startswith=PREFIX).values_list("name", "enabled"))


@pytest.fixture
def empty_beat(db: None) -> None:
    """migrate already synced (post_migrate): start from no system tasks."""
    PeriodicTask.objects.filter(name__startswith=PREFIX).delete()


def test_the_registry_covers_the_system_tasks() -> None:
    assert [d.full_name for d in SYSTEM_SCHEDULES] == NAMES


def test_sync_creates_this_environments_tasks_with_intervals_from_settings(
    empty_beat: None, settings
) -> None:
    settings.DISPATCH_TICK_SECONDS = 7
    settings.SCHEDULER_RETRY_TICK_SECONDS = 45
    out = sync()
    for name in NAMES:
        assert f"created:  {name}" in out
    assert "Environment production: 10 created, 0 updated, 0 disabled, 0 unchanged" in out
    assert enabled() == dict.fromkeys(NAMES, True)
    every = dict(
        PeriodicTask.objects.filter(name__startswith=PREFIX).values_list("task", "interval__every")
    )
    assert every == {
        "schedules.tasks.dispatch": 7,
        "businesses.tasks.expire_custom_intervals": 60,
        "schedules.tasks.start_due_retries": 45,
        "schedules.tasks.reconcile": 60,
        "schedules.tasks.capacity_refresh": 30,
        "retry.tasks.cleanup": 3600,
        "schedules.tasks.prune_history": 3600,
        "monitoring.tasks.evaluate_alerts": 60,
        "notifications.tasks.send_deliveries": 5,
        "notifications.tasks.send_alerts": 5,
    }
    assert all(
        p.interval.period == IntervalSchedule.SECONDS
        for p in PeriodicTask.objects.filter(name__startswith=PREFIX)
    )


def test_sync_is_idempotent(empty_beat: None) -> None:
    sync()
    rows = list(PeriodicTask.objects.order_by("name").values())
    intervals = IntervalSchedule.objects.count()
    out = sync()
    assert "0 created, 0 updated, 0 disabled, 10 unchanged; 10 of 10 system tasks enabled." in out
    assert "created:" not in out and "updated:" not in out and "disabled:" not in out
    assert list(PeriodicTask.objects.order_by("name").values()) == rows
    assert IntervalSchedule.objects.count() == intervals


def test_a_changed_setting_updates_the_task(db: None, settings) -> None:
    settings.SCHEDULER_RECONCILE_TICK_SECONDS = 90
    out = sync()
    assert "updated:  global-scheduler: reconcile runs" in out
    assert PeriodicTask.objects.get(name=NAMES[3]).interval.every == 90


def test_a_definition_no_longer_in_code_is_disabled_not_deleted(db: None) -> None:
    every = IntervalSchedule.objects.create(every=30, period=IntervalSchedule.SECONDS)
    PeriodicTask.objects.create(name="global-scheduler: old thing", task="x.y", interval=every)
    PeriodicTask.objects.create(name="an operator's own task", task="x.z", interval=every)
    out = sync()
    assert "disabled: global-scheduler: old thing" in out
    assert PeriodicTask.objects.get(name="global-scheduler: old thing").enabled is False
    assert PeriodicTask.objects.get(name="an operator's own task").enabled is True  # not ours
    assert "disabled:" not in sync()  # already disabled: nothing more to say


def test_an_operator_disabled_required_task_is_enabled_again(db: None) -> None:
    PeriodicTask.objects.filter(name=NAMES[0]).update(enabled=False)
    assert "updated:  global-scheduler: dispatch tick" in sync()
    assert PeriodicTask.objects.get(name=NAMES[0]).enabled is True


def test_scheduler_env_filters_definitions(empty_beat: None, settings) -> None:
    definitions = (*SYSTEM_SCHEDULES, PRODUCTION_ONLY)
    settings.SCHEDULER_ENV = "staging"
    report = system_schedules_sync(definitions=definitions)
    assert PRODUCTION_ONLY.full_name not in report.created
    assert not PeriodicTask.objects.filter(name=PRODUCTION_ONLY.full_name).exists()
    assert len(report.created) == 10

    settings.SCHEDULER_ENV = "production"
    assert system_schedules_sync(definitions=definitions).created == [PRODUCTION_ONLY.full_name]
    assert PeriodicTask.objects.get(name=PRODUCTION_ONLY.full_name).enabled is True

    settings.SCHEDULER_ENV = "staging"  # back to staging: the production-only task stops
    assert system_schedules_sync(definitions=definitions).disabled == [PRODUCTION_ONLY.full_name]
    assert enabled() == {**dict.fromkeys(NAMES, True), PRODUCTION_ONLY.full_name: False}


def test_an_unknown_environment_is_refused_and_disables_nothing(db: None, settings) -> None:
    settings.SCHEDULER_ENV = "prod"  # a typo would have disabled the dispatch tick
    with pytest.raises(CommandError, match="SCHEDULER_ENV='prod' is not one of"):
        sync()
    assert enabled() == dict.fromkeys(NAMES, True)


def test_an_optional_task_starts_disabled_and_keeps_an_operators_choice(empty_beat: None) -> None:
    definitions = (*SYSTEM_SCHEDULES, OPTIONAL)
    report = system_schedules_sync(definitions=definitions)
    assert OPTIONAL.full_name in report.created
    assert PeriodicTask.objects.get(name=OPTIONAL.full_name).enabled is False

    task = PeriodicTask.objects.get(name=OPTIONAL.full_name)
    task.enabled = True  # the operator turns it on in the admin
    task.save()
    report = system_schedules_sync(definitions=definitions)
    assert not report.changed
    assert PeriodicTask.objects.get(name=OPTIONAL.full_name).enabled is True

    task.enabled = False  # and off again
    task.save()
    system_schedules_sync(definitions=definitions)
    assert PeriodicTask.objects.get(name=OPTIONAL.full_name).enabled is False


def test_ensure_is_the_same_sync(empty_beat: None) -> None:
    tasks = system_periodic_tasks_ensure()
    assert [t.name for t in tasks] == NAMES and all(t.enabled for t in tasks)
    assert [t.pk for t in system_periodic_tasks_ensure()] == [t.pk for t in tasks]


def test_init_global_schedules_still_reports_the_tasks(db: None) -> None:
    out = StringIO()
    call_command("init_global_schedules", stdout=out)
    assert "10 periodic tasks in place." in out.getvalue()
