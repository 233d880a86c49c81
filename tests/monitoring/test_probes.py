"""Probes: /healthz (liveness), /readyz (database and broker, for real), at the site root."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connections
from django.db.utils import ConnectionHandler

from monitoring import probes

CLOSED_PORT = 1


def test_healthz_answers_without_touching_any_dependency(client, settings) -> None:
    # No database access is allowed in this test, and the broker is unreachable.
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_probes_are_read_only(client) -> None:
    assert client.head("/healthz").status_code == 200
    for url in ("/healthz", "/readyz", "/metrics"):
        assert client.post(url).status_code == 405


@pytest.mark.django_db
def test_readyz_ok_when_database_and_broker_answer(client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": {"status": "ok"}, "broker": {"status": "ok"}},
        "failed": [],
    }


@pytest.fixture
def broken_database(monkeypatch) -> Iterator[ConnectionHandler]:
    """The probe's connections point at a closed port: real connection attempts that fail."""
    broken = {**connections["default"].settings_dict, "HOST": "127.0.0.1", "PORT": CLOSED_PORT}
    handler = ConnectionHandler({"default": broken})
    monkeypatch.setattr(probes, "connections", handler)
    yield handler
    handler.close_all()


@pytest.mark.django_db
def test_readyz_503_when_the_database_is_unreachable(client, broken_database) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"status": "error", "error": "OperationalError"}
    assert body["checks"]["broker"] == {"status": "ok"}


@pytest.mark.django_db
def test_database_check_raises_on_the_broken_alias(broken_database) -> None:
    from django.db import OperationalError

    with pytest.raises(OperationalError):
        probes.database_check()


@pytest.mark.django_db
def test_readyz_503_when_the_broker_is_unreachable(client, settings) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "error"


@pytest.mark.django_db
def test_readyz_names_both_when_both_are_down(client, settings, broken_database) -> None:
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{CLOSED_PORT}/0"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "broker"]


@pytest.mark.django_db
def test_probes_need_no_credentials_and_are_not_in_the_schema(admin_client_key) -> None:
    schema = admin_client_key.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    paths = set(schema["paths"])
    assert {"/api/v1/admin/health/", "/api/v1/admin/metrics/"} <= paths
    assert not {"/healthz", "/readyz", "/metrics"} & paths
