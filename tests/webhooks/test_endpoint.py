"""POST /api/v1/webhooks/apify/: 401/400 store nothing, duplicates are stored once."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from schedules.services.ingest import webhook_event_ingest
from webhooks.models import WebhookEvent, WebhookStatus

URL = "/api/v1/webhooks/apify/"
SECRET = "s3cret-for-tests"


@pytest.fixture(autouse=True)
def _secret(settings) -> None:
    settings.APIFY_WEBHOOK_SECRET = SECRET


def payload(run_id: str = "RUNabcdefghijk123", event: str = "ACTOR.RUN.SUCCEEDED") -> dict:
    return {
        "userId": "u1",
        "createdAt": "2026-11-25T10:00:00.000Z",
        "eventType": event,
        "eventData": {"actorId": "a1", "actorRunId": run_id},
        "resource": {"id": run_id, "status": "SUCCEEDED", "defaultDatasetId": "d1"},
    }


def post(body: object, secret: str | None = SECRET, raw: bool = False):
    headers = {"HTTP_X_WEBHOOK_SECRET": secret} if secret is not None else {}
    data = body if raw else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


def test_a_valid_callback_is_accepted_and_queued(
    db: None,
    django_capture_on_commit_callbacks,
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        response = post(payload())
    assert response.status_code == 202
    event = WebhookEvent.objects.get()
    assert response.json() == {"status": "accepted", "id": event.id}
    assert (event.run_id, event.event_type, event.status) == (
        "RUNabcdefghijk123",
        "ACTOR.RUN.SUCCEEDED",
        WebhookStatus.RECEIVED,
    )
    assert len(callbacks) == 1


def test_ten_deliveries_store_one_event(db: None, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        codes = [post(payload()).status_code for _ in range(10)]
    assert codes == [202] + [200] * 9
    event = WebhookEvent.objects.get()
    assert event.duplicates == 9
    assert len(callbacks) == 1  # one processing, whatever the deliveries


def test_a_different_event_of_the_same_run_is_its_own_event(db: None) -> None:
    assert post(payload()).status_code == 202
    assert post(payload(event="ACTOR.RUN.ABORTED")).status_code == 202
    assert WebhookEvent.objects.count() == 2


@pytest.mark.parametrize("secret", [None, "", "wrong", SECRET + "x", SECRET[:-1]])
def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(db: None, secret: str | None) -> None:
    response = post(payload(), secret=secret)
    assert response.status_code == 401
    assert response.json() == {"detail": "Missing or wrong webhook secret."}
    assert not WebhookEvent.objects.exists()


def test_an_empty_configured_secret_accepts_nothing(db: None, settings) -> None:
    settings.APIFY_WEBHOOK_SECRET = ""
    assert post(payload(), secret="").status_code == 401
    assert not WebhookEvent.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**payload(), "eventType": "ACTOR.RUN.CREATED"}, "eventType"),
        ({**payload(), "eventType": None}, "eventType"),
        ({k: v for k, v in payload().items() if k != "resource"}, "resource"),
        ({**payload(), "resource": {"status": "SUCCEEDED"}}, "resource"),
        ({**payload(), "resource": "RUN1"}, "resource"),
        ({**payload(), "resource": {"id": "x" * 65}}, "resource"),
        ([payload()], "non_field_errors"),
    ],
)
def test_a_malformed_payload_is_400_with_the_reason(db: None, body: object, field: str) -> None:
    response = post(body)
    assert response.status_code == 400
    assert field in response.json()
    assert not WebhookEvent.objects.exists()


def test_a_body_that_is_not_json_is_400(db: None) -> None:
    response = post("{not json", raw=True)
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert not WebhookEvent.objects.exists()


def test_an_unknown_run_is_recorded_and_answered_2xx(db: None) -> None:
    assert post(payload(run_id="NOSUCHRUN")).status_code == 202
    event = WebhookEvent.objects.get()
    assert webhook_event_ingest(event_id=event.id) == WebhookStatus.UNKNOWN_RUN
    event.refresh_from_db()
    assert event.status == WebhookStatus.UNKNOWN_RUN and event.processed_at is not None
