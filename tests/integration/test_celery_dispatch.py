"""A real Celery worker and beat on Redis dispatch a due batch; the start request reaches
the fake Apify through the real apify-client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection

from businesses.services import team_upsert
from schedules.dbclock import db_now
from schedules.models import Batch, Execution
from schedules.services.assignment import schedule_groups_init
from schedules.services.system_schedules import system_periodic_tasks_ensure
from schedules.states import ExecutionState
from tests.conftest import register_google
from tests.fakes.apify_server import FakeApify

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]
SECRET = "integration-secret"


@pytest.fixture
def fake() -> Iterator[FakeApify]:
    with FakeApify(token="integration-token") as server:
        yield server


@pytest.fixture
def celery_env(fake: FakeApify) -> dict[str, str]:
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    db = connection.settings_dict
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "APIFY_API_URL": fake.url,
        "APIFY_TOKEN": "integration-token",
        "WEBHOOK_BASE_URL": "https://scheduler.example.test/",
        "APIFY_WEBHOOK_SECRET": SECRET,
        "DISPATCH_TICK_SECONDS": "1",
        "NO_PROXY": "127.0.0.1,localhost",
    }


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "scheduler_project", *args],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def _wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("condition not met in time")


def test_beat_and_worker_dispatch_a_due_batch_to_apify(
    fake: FakeApify,
    celery_env: dict[str, str],
    tmp_path: Path,
    settings,
) -> None:
    settings.DISPATCH_TICK_SECONDS = 1
    schedule_groups_init()
    system_periodic_tasks_ensure()
    alice = team_upsert(team_id="alice", tier="professional")[0]
    businesses = register_google(alice, 3, scrape_types=["reviews"])
    batch = businesses[0].mappings.get().batch
    Batch.objects.filter(id=batch.id).update(next_run_at=db_now())

    processes = [
        _spawn(
            [
                "worker",
                "--pool=solo",
                "-Q",
                settings.CELERY_TASK_DEFAULT_QUEUE,
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            celery_env,
            tmp_path / "worker.log",
        ),
        _spawn(
            [
                "beat",
                "--max-interval=1",
                "--loglevel=INFO",
                f"--schedule={tmp_path / 'beat-schedule'}",
            ],
            celery_env,
            tmp_path / "beat.log",
        ),
    ]
    try:
        try:
            (start,) = fake.wait_for_requests(
                lambda r: r.method == "POST" and r.path.endswith("/runs"), timeout=90
            )
        except AssertionError:
            for log in ("worker.log", "beat.log"):
                print(f"--- {log}\n{(tmp_path / log).read_text()[-4000:]}")
            raise
        assert start.path == "/v2/actors/compass~google-maps-reviews-scraper/runs"
        assert start.json["placeIds"] == [b.platform_key for b in businesses]
        (webhook,) = start.webhooks
        assert webhook["requestUrl"] == "https://scheduler.example.test/api/v1/webhooks/apify/"
        assert json.loads(webhook["headersTemplate"]) == {"X-Webhook-Secret": SECRET}

        execution = Execution.objects.get(batch=batch)
        assert webhook["idempotencyKey"] == str(execution.id)
        _wait_for(
            lambda: Execution.objects.filter(id=execution.id, state=ExecutionState.RUNNING).exists()
        )
        execution.refresh_from_db()
        assert execution.apify_run_id in fake.runs
        assert execution.trigger == "scheduled"
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    # Exactly one run for the slot, however many ticks the beat sent meanwhile.
    assert len([r for r in fake.requests if r.method == "POST"]) == 1
    assert Execution.objects.filter(batch=batch).count() == 1
