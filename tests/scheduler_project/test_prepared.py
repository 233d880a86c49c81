"""The statements every API request runs (the key lookup, the JSON list pages) are prepared on
a connection after a few runs, still answer each request's own values once prepared, and are
never prepared behind PgBouncer's transaction pooling."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from django.db import connection
from rest_framework.test import APIClient

from access.services import api_key_create
from businesses.models import Team
from tests.conftest import register_google
from tests.web_server import database_url, web_server

ROOT = Path(__file__).resolve().parents[2]


def _prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_key_lookup_and_the_page_are_prepared_and_keep_their_values(
    product_client: APIClient, admin_client_key: APIClient, alice: Team, bob: Team
) -> None:
    register_google(alice, 3)
    register_google(bob, 2)
    first = product_client.get("/api/v1/teams/alice/businesses/").json()
    for _ in range(6):
        again = product_client.get("/api/v1/teams/alice/businesses/").json()
        admin_client_key.get("/api/v1/admin/schedules/")

    statements = _prepared_statements()
    assert any('FROM "admin_ui_apikey"' in s for s in statements), statements
    assert any("businesses_scrapeoutcome" in s for s in statements), statements
    assert any("schedules_schedulegroup g ON g.id = b.group_id" in s for s in statements)
    # Prepared, the statements still take each request's values: the same page as the first
    # (unprepared) answer, and another team's own businesses, not the prepared team's.
    assert again == first and first["count"] == 3
    other = product_client.get("/api/v1/teams/bob/businesses/").json()
    assert other["count"] == 2
    assert {b["team_id"] for b in other["results"]} == {"bob"}
    assert product_client.get("/api/v1/teams/nobody/businesses/").status_code == 404


@pytest.mark.parametrize(("pooling", "threshold"), [("false", "5"), ("true", "None")])
def test_transaction_pooling_turns_preparing_off(pooling: str, threshold: str) -> None:
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "DATABASE_TRANSACTION_POOLING": pooling,
        "DJANGO_SETTINGS_MODULE": "scheduler_project.settings",
        "DEBUG": "true",
    }
    script = (
        "import django; django.setup(); from django.db import connection;"
        " connection.ensure_connection(); print(connection.connection.prepare_threshold)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == threshold


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_with_the_database_is_replaced_not_used(alice: Team) -> None:
    """The key lookup is a request's first statement: its cursor runs Django's health check,
    so a persistent connection the database dropped (a restart) is not used for it."""
    register_google(alice, 2)
    _, key = api_key_create(name="reviews-service")
    headers = {"Authorization": f"Api-Key {key}"}
    with web_server(CONN_MAX_AGE="600") as base, httpx.Client(base_url=base) as http:
        for _ in range(6):  # prepared by now, on the server's one persistent connection
            assert http.get("/api/v1/teams/alice/businesses/", headers=headers).status_code == 200
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            assert cursor.fetchone()[0] >= 1
        response = http.get("/api/v1/teams/alice/businesses/", headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["count"] == 2
