"""Tenancy: a key bound to one team reaches only that team's paths; keys expire, rotate with a
grace period and show when they were last used; a non-staff session reaches no API."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiKey, AuditEvent
from access.services import api_key_create, api_key_rotate
from businesses.models import Business, Team
from tests.conftest import register_google

METHODS = ("get", "post", "put", "patch", "delete")


def _team_routes() -> list[tuple[str, type]]:
    """Every route under the API with a `team_id` in it, walked from the URL resolver: an
    endpoint added later is covered without touching this test."""
    found: list[tuple[str, type]] = []

    def walk(patterns: list, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and "<str:team_id>" in route:
                view = getattr(entry.callback, "view_class", None)
                if view is not None and route.startswith("api/"):
                    found.append((route, view))

    walk(get_resolver().url_patterns, "")
    return found


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def alice_key(alice: Team) -> APIClient:
    _, key = api_key_create(name="alice-integration", team_id="alice")
    return _client(key)


def test_a_team_bound_key_is_refused_on_every_other_teams_path(
    alice_key: APIClient, bob: Team
) -> None:
    (theirs,) = register_google(bob, 1)
    routes = _team_routes()
    assert len(routes) >= 4  # teams/, businesses/, a business, its reviews (and later ones)
    tried = 0
    for route, view in routes:
        path = "/" + route.replace("<str:team_id>", "bob")
        path = re.sub(r"<int:\w+>", str(theirs.id), path)
        for method in METHODS:
            if not hasattr(view, method):
                continue
            answer = getattr(alice_key, method)(path, {}, format="json")
            assert answer.status_code == 403, (method, path, answer.status_code)
            if not route.startswith("api/v1/admin/"):  # operator paths refuse any product key
                assert "bound to team alice" in answer.json()["detail"]
            tried += 1
    assert tried >= 7
    theirs.refresh_from_db()
    assert Business.objects.filter(team=bob).count() == 1 and theirs.name == ""


def test_a_team_bound_key_works_on_its_own_team_but_cannot_create_or_retier(
    alice_key: APIClient, alice: Team
) -> None:
    (mine,) = register_google(alice, 1)
    assert alice_key.get("/api/v1/teams/alice/").status_code == 200
    answer = alice_key.get("/api/v1/teams/alice/businesses/")
    assert [b["id"] for b in answer.json()["results"]] == [mine.id]
    assert (
        alice_key.patch(
            f"/api/v1/teams/alice/businesses/{mine.id}/", {"name": "Ours"}, format="json"
        ).json()["name"]
        == "Ours"
    )

    answer = alice_key.put("/api/v1/teams/alice/", {"tier": "enterprise"}, format="json")
    assert answer.status_code == 403
    assert "cannot create a team or change its tier" in answer.json()["detail"]
    answer = alice_key.put("/api/v1/teams/brand-new/", {"tier": "enterprise"}, format="json")
    assert answer.status_code == 403
    alice.refresh_from_db()
    assert alice.tier != "enterprise" and not Team.objects.filter(team_id="brand-new").exists()


def test_an_unbound_product_key_still_reaches_every_team(
    product_client: APIClient, alice: Team, bob: Team
) -> None:
    for team in ("alice", "bob"):
        assert product_client.get(f"/api/v1/teams/{team}/businesses/").status_code == 200
    assert product_client.put("/api/v1/teams/carol/", {"tier": "free"}).status_code == 201


def test_a_bound_key_reaches_no_admin_endpoint(alice_key: APIClient) -> None:
    assert alice_key.get("/api/v1/admin/schedules/").status_code == 403


def test_an_expired_key_answers_401(alice: Team) -> None:
    row, key = api_key_create(
        name="short-lived", team_id="alice", expires_at=timezone.now() + timedelta(hours=1)
    )
    assert _client(key).get("/api/v1/teams/alice/").status_code == 200
    ApiKey.objects.filter(id=row.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    answer = _client(key).get("/api/v1/teams/alice/")
    assert answer.status_code == 401 and answer.json()["detail"] == "This API key has expired."


def test_a_rotated_key_keeps_the_old_secret_for_the_grace_period(alice: Team) -> None:
    row, old = api_key_create(name="rotating", team_id="alice")
    new = api_key_rotate(key=row, grace=timedelta(hours=1), actor="ops")
    assert new != old
    for secret in (old, new):
        assert _client(secret).get("/api/v1/teams/alice/").status_code == 200

    ApiKey.objects.filter(id=row.id).update(
        previous_valid_until=timezone.now() - timedelta(seconds=1)
    )
    assert _client(old).get("/api/v1/teams/alice/").status_code == 401
    assert _client(new).get("/api/v1/teams/alice/").status_code == 200
    assert AuditEvent.objects.filter(action="api_key.rotate", actor="ops").count() == 1


def test_a_key_shows_when_it_was_last_used(alice: Team) -> None:
    row, key = api_key_create(name="used", team_id="alice")
    assert row.last_used_at is None
    _client(key).get("/api/v1/teams/alice/")
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_a_non_staff_session_reaches_neither_api(client, django_user_model, alice: Team) -> None:
    client.force_login(django_user_model.objects.create_user("customer", password="pw"))
    for path in ("/api/v1/teams/alice/", "/api/v1/admin/schedules/"):
        answer = client.get(path)
        assert answer.status_code == 403, path
        assert "product services use an API key" in answer.json()["detail"]


def test_create_api_key_binds_a_key_to_a_team(alice: Team) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "create_api_key",
        "alice-app",
        "--team",
        "alice",
        "--expires-in-days",
        "30",
        stdout=out,
        stderr=err,
    )
    key = out.getvalue().strip()
    row = ApiKey.objects.get(name="alice-app")
    assert row.team_id == "alice" and row.expires_at > timezone.now() + timedelta(days=29)
    assert "team alice only" in err.getvalue()
    assert _client(key).get("/api/v1/teams/alice/").status_code == 200

    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("create_api_key", "both", "--team", "alice", "--admin", stderr=StringIO())
    with pytest.raises(CommandError, match="team_id: 1 to 64 characters"):
        call_command("create_api_key", "markup", "--team", '"><img>', stderr=StringIO())
    assert not ApiKey.objects.filter(name__in=["both", "markup"]).exists()


def test_keys_are_created_and_rotated_in_the_django_admin(admin_client, alice: Team) -> None:
    answer = admin_client.post(
        "/admin/admin_ui/apikey/add/",
        {"name": "from-admin", "team_id": "alice", "_save": "Save"},
        follow=True,
    )
    shown = [str(m) for m in answer.context["messages"]]
    (key,) = [m.rsplit(" ", 1)[1] for m in shown if "shown once" in m]
    row = ApiKey.objects.get(name="from-admin")
    assert row.team_id == "alice" and _client(key).get("/api/v1/teams/alice/").status_code == 200
    assert AuditEvent.objects.filter(action="api_key.create", object_id=str(row.id)).exists()

    answer = admin_client.post(
        "/admin/admin_ui/apikey/",
        {"action": "rotate", "_selected_action": [row.id]},
        follow=True,
    )
    (new,) = [
        str(m).rsplit(" ", 1)[1] for m in answer.context["messages"] if "shown once" in str(m)
    ]
    assert _client(new).get("/api/v1/teams/alice/").status_code == 200
    assert _client(key).get("/api/v1/teams/alice/").status_code == 200  # grace period
