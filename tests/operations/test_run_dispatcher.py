"""`run_dispatcher` as deployed: a process that ticks until SIGTERM, then exits cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.db import connection

from schedules.models import Execution, Heartbeat
from tests.integration.conftest import wait_for
from tests.schedules.helpers import make_batch
from tests.schedules.test_dispatch import _hour_slot

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_run_dispatcher_ticks_until_sigterm_then_exits_cleanly() -> None:
    batch = make_batch(next_run_at=_hour_slot())
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatcher", "--interval", "0.2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(lambda: Execution.objects.filter(batch=batch).exists(), timeout=30)
        wait_for(lambda: Heartbeat.objects.filter(kind="dispatcher").exists(), timeout=10)
        time.sleep(0.5)  # a few more ticks: none may dispatch the slot again
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "claimed 1, started 1" in output
    assert Execution.objects.filter(batch=batch).count() == 1


@pytest.mark.django_db(transaction=True)
def test_run_dispatcher_survives_its_connection_being_terminated_mid_tick() -> None:
    """The connection dies INSIDE a tick (held on a row lock, then pg_terminate_backend):
    the tick fails and is logged, the loop goes on, and the next tick reconnects."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_dispatcher", "--interval", "0.2"],
        cwd=REPO,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": url,
            "PGAPPNAME": "victim-dispatcher",
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    blocker = psycopg.connect(url)  # holds the dispatcher's heartbeat row: its tick waits
    try:
        wait_for(lambda: Heartbeat.objects.filter(name__endswith=f":{process.pid}").exists())
        blocker.execute(
            "SELECT 1 FROM schedules_heartbeat WHERE name LIKE %s FOR UPDATE",
            [f"%:{process.pid}"],
        )
        wait_for(lambda: _terminate_if_waiting_on_a_lock("victim-dispatcher"), timeout=30)
        blocker.rollback()
        batch = make_batch(next_run_at=_hour_slot())
        wait_for(lambda: Execution.objects.filter(batch=batch).exists(), timeout=30)
        assert process.poll() is None, "the dispatcher died with its connection"
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=15)
    finally:
        blocker.close()
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "dispatch tick failed" in output
    assert Execution.objects.filter(batch=batch).count() == 1


def _terminate_if_waiting_on_a_lock(application_name: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND wait_event_type = 'Lock'",
            [application_name],
        )
        return cursor.fetchone()[0] > 0
