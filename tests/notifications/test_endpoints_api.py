"""/api/v1/webhook-endpoints/: subscribe, scope by team, refuse what must not be called."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from access.models import AuditEvent
from access.services import api_key_create
from businesses.models import Team
from notifications.models import WebhookEndpoint
from tests.notifications.receiver import Receiver

URL = "/api/v1/webhook-endpoints/"


def _team_client(team_id: str) -> APIClient:
    _, key = api_key_create(name=f"{team_id}-service", team_id=team_id)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


def test_a_subscription_answers_its_secret_once(
    product_client: APIClient, receiver: Receiver, alice: Team
) -> None:
    answer = product_client.post(
        URL,
        {"url": receiver.url(), "events": ["business.scraped"], "team_id": "alice"},
        format="json",
    )

    assert answer.status_code == 201, answer.json()
    body = answer.json()
    assert body["secret"].startswith("whsec_") and body["team_id"] == "alice"
    assert body["events"] == ["business.scraped"]
    detail = product_client.get(f"{URL}{body['id']}/").json()
    assert "secret" not in detail and detail["url"] == receiver.url()
    assert AuditEvent.objects.filter(action="webhook_endpoint.create").count() == 1


def test_a_team_bound_key_subscribes_for_its_team_only(
    receiver: Receiver, alice: Team, bob: Team, product_client: APIClient
) -> None:
    alice_client = _team_client("alice")
    mine = alice_client.post(
        URL, {"url": receiver.url(), "events": ["business.failed"]}, format="json"
    )
    assert mine.status_code == 201 and mine.json()["team_id"] == "alice"
    others = alice_client.post(
        URL,
        {"url": receiver.url(), "events": ["business.failed"], "team_id": "bob"},
        format="json",
    )
    assert others.status_code == 400 and "bound to team alice" in others.json()["team_id"][0]
    bobs = product_client.post(
        URL,
        {"url": receiver.url(), "events": ["business.failed"], "team_id": "bob"},
        format="json",
    ).json()

    listed = alice_client.get(URL).json()
    assert [e["id"] for e in listed["results"]] == [mine.json()["id"]]
    assert alice_client.get(f"{URL}{bobs['id']}/").status_code == 404
    assert alice_client.delete(f"{URL}{bobs['id']}/").status_code == 404
    assert product_client.get(URL).json()["count"] == 2  # an unbound key sees every team's


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:8000/hook", "private or local network"),
        ("http://169.254.169.254/latest/meta-data/", "private or local network"),
        ("http://10.1.2.3/hook", "private or local network"),
        ("http://[::1]/hook", "private or local network"),
        ("ftp://example.com/hook", "Use an http or https URL"),
    ],
)
def test_addresses_of_our_own_network_are_refused(
    product_client: APIClient, alice: Team, url: str, reason: str
) -> None:
    answer = product_client.post(URL, {"url": url, "events": ["business.scraped"]}, format="json")

    assert answer.status_code == 400
    assert reason in answer.json()["url"][0]
    assert not WebhookEndpoint.objects.exists()


def test_bad_bodies_name_the_field(
    product_client: APIClient, receiver: Receiver, alice: Team
) -> None:
    cases = [
        ({"url": receiver.url(), "events": ["business.deleted"]}, "events"),
        ({"url": receiver.url(), "events": []}, "events"),
        ({"url": receiver.url(), "events": ["business.scraped"], "team_id": "nobody"}, "team_id"),
        ({"url": receiver.url(), "events": ["business.scraped"], "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        answer = product_client.post(URL, body, format="json")
        assert answer.status_code == 400 and field in answer.json(), (body, answer.json())
    assert not WebhookEndpoint.objects.exists()


def test_patch_rotate_and_delete(
    product_client: APIClient, receiver: Receiver, alice: Team
) -> None:
    created = product_client.post(
        URL, {"url": receiver.url(), "events": ["business.scraped"]}, format="json"
    ).json()
    path = f"{URL}{created['id']}/"

    patched = product_client.patch(
        path, {"enabled": False, "events": ["business.failed"]}, format="json"
    )
    assert patched.status_code == 200
    assert patched.json()["enabled"] is False and patched.json()["events"] == ["business.failed"]
    rotated = product_client.post(f"{path}rotate-secret/").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.previous_secret == created["secret"]  # signs beside the new one for 24 h

    assert product_client.delete(path).status_code == 204
    assert not WebhookEndpoint.objects.exists()
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {
        "webhook_endpoint.update",
        "webhook_endpoint.rotate_secret",
        "webhook_endpoint.delete",
    } <= actions
