"""Project-wide guarantees: migrations match the models, the admin shows every model."""

from __future__ import annotations

from io import StringIO

import pytest
from django.apps import apps
from django.contrib import admin
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from businesses.models import Team
from schedules.models import Batch
from schedules.services.dispatch import dispatch_tick
from tests.conftest import register_google

# App labels: the access app keeps the label admin_ui (see access/apps.py).
OUR_APPS = {"businesses", "schedules", "retry", "webhooks", "admin_ui"}


def test_models_match_the_migrations(db: None) -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_every_model_is_registered_in_the_admin() -> None:
    ours = {m for m in apps.get_models() if m._meta.app_label in OUR_APPS}
    assert ours and ours <= set(admin.site._registry)


@pytest.fixture
def staff_client(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_every_admin_list_renders_with_data(staff_client: Client, alice: Team) -> None:
    register_google(alice, 3)
    Batch.objects.update(next_run_at=Batch.objects.first().next_run_at.replace(year=2020))
    dispatch_tick()
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        response = staff_client.get(url)
        assert response.status_code == 200, url


def test_the_init_command_is_idempotent(db: None) -> None:
    out = StringIO()
    call_command("init_global_schedules", stdout=out)
    call_command("init_global_schedules", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("32 schedule groups created")
    assert lines[1].startswith("0 schedule groups created")


def test_the_dispatch_tick_is_a_periodic_task_after_migrate(db: None) -> None:
    from django_celery_beat.models import PeriodicTask

    tick = PeriodicTask.objects.get(task="schedules.tasks.dispatch")
    assert tick.enabled and tick.interval.every == 10


def test_the_demo_seed_makes_due_batches_on_every_platform_once(db: None) -> None:
    from businesses.models import Business
    from scheduler_project.dbclock import db_now

    out = StringIO()
    call_command("seed_demo", stdout=out)
    call_command("seed_demo", stdout=out)
    assert "48 businesses" in out.getvalue()
    assert "no demo data added" in out.getvalue()
    assert set(Business.objects.values_list("platform", flat=True)) == {
        "google",
        "facebook",
        "tripadvisor",
        "booking",
    }
    batches = Batch.objects.filter(business_count__gt=0)
    assert batches.exists()
    assert not batches.filter(next_run_at__gt=db_now()).exists()
