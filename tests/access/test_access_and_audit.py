"""Who may use the operators' API (401 anonymous, 403 product key, nothing written), and the
audit log every operator write lands in."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.models import Team
from tests.api.admin_helpers import ADMIN, batch_of, db_fingerprint, make_execution
from tests.conftest import register_google

EXECUTION = uuid.uuid4()
ENDPOINTS = [
    ("get", "schedules/"),
    ("get", "schedules/{batch}/"),
    ("get", "schedules/{batch}/businesses/"),
    ("get", "schedules/{batch}/executions/"),
    ("post", "schedules/{batch}/trigger/"),
    ("post", "schedules/{batch}/pause/"),
    ("post", "schedules/{batch}/resume/"),
    ("post", "schedules/rebalance/"),
    ("post", "schedules/consolidate/"),
    ("get", "teams/alice/schedules/"),
    ("put", "teams/alice/custom-interval/"),
    ("delete", "teams/alice/custom-interval/"),
    ("post", "businesses/{business}/retry/"),
    ("get", "retry-queue/"),
    ("get", "executions/"),
    ("get", "executions/{execution}/"),
    ("post", "executions/{execution}/cancel/"),
    ("post", "executions/{execution}/retry/"),
    ("get", "audit-log/"),
]


@pytest.fixture
def targets(alice: Team) -> dict[str, object]:
    (business,) = register_google(alice)
    batch = batch_of(business)
    execution = make_execution(batch, state="running")
    return {"batch": batch.id, "business": business.id, "execution": execution.id}


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_anonymous_callers_get_401_and_write_nothing(
    anonymous_client: APIClient, targets: dict, method: str, path: str
) -> None:
    before = db_fingerprint()
    response = getattr(anonymous_client, method)(
        f"{ADMIN}/{path.format(**targets)}", {"interval_minutes": 60}, format="json"
    )
    assert response.status_code == 401
    assert db_fingerprint() == before


@pytest.mark.parametrize("method, path", ENDPOINTS)
def test_a_product_key_gets_403_and_writes_nothing(
    product_client: APIClient, targets: dict, method: str, path: str
) -> None:
    before = db_fingerprint()
    response = getattr(product_client, method)(
        f"{ADMIN}/{path.format(**targets)}", {"interval_minutes": 60}, format="json"
    )
    assert response.status_code == 403
    assert db_fingerprint() == before


def test_audit_log_is_newest_first_and_filters(admin_client_key: APIClient, alice: Team) -> None:
    (business,) = register_google(alice)
    batch = batch_of(business)
    admin_client_key.post(f"{ADMIN}/schedules/{batch.id}/pause/", {"reason": "quota"})
    admin_client_key.post(f"{ADMIN}/schedules/{batch.id}/resume/")
    admin_client_key.put(f"{ADMIN}/teams/alice/custom-interval/", {"interval_minutes": 60})
    body = admin_client_key.get(f"{ADMIN}/audit-log/").json()
    assert [e["action"] for e in body["results"]] == [
        "custom_interval.set",
        "batch.resume",
        "batch.pause",
    ]
    pause = body["results"][2]
    assert pause["actor"] == "api-key:ops-tool"
    assert (pause["object_type"], pause["object_id"], pause["reason"]) == (
        "schedules.batch",
        str(batch.id),
        "quota",
    )
    assert (pause["before"], pause["after"]) == ({"status": "active"}, {"status": "paused"})

    def actions(query: str) -> list[str]:
        rows = admin_client_key.get(f"{ADMIN}/audit-log/?{query}").json()["results"]
        return [e["action"] for e in rows]

    assert actions("action=batch.pause") == ["batch.pause"]
    assert actions(f"object_type=schedules.batch&object_id={batch.id}") == [
        "batch.resume",
        "batch.pause",
    ]
    assert actions("object_type=businesses.team") == ["custom_interval.set"]
    assert actions("actor=someone-else") == []
    response = admin_client_key.get(f"{ADMIN}/audit-log/?actor={'x' * 151}")
    assert response.status_code == 400 and "actor" in response.json()


def test_audit_log_queries_do_not_grow(admin_client_key: APIClient, db: None) -> None:
    def queries_at(total: int) -> int:
        AuditEvent.objects.bulk_create(
            AuditEvent(
                actor="ops", action="batch.pause", object_type="schedules.batch", object_id=i
            )
            for i in range(total - AuditEvent.objects.count())
        )
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client_key.get(f"{ADMIN}/audit-log/?limit=500")
        assert len(response.json()["results"]) == total
        return len(ctx.captured_queries)

    assert queries_at(10) == queries_at(200)
