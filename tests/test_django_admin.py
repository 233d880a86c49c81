"""Edits in the Django admin go through the services (and audit) the API uses, or are
refused: the admin cannot leave a batch count or a team's intervals wrong."""

from __future__ import annotations

import pytest
from django.test import Client

from access.models import AuditEvent
from businesses.models import Business, Team
from businesses.services import TEAM_ID_INVALID
from schedules.models import Batch, Mapping
from tests.conftest import register_google


@pytest.fixture
def admin_client_web(admin_user) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_a_tier_changed_in_the_admin_moves_the_teams_businesses_and_is_audited(
    admin_client_web: Client, alice: Team
) -> None:
    (business,) = register_google(alice, 1, scrape_types=["reviews"])
    assert business.mappings.get().batch.group.interval_minutes == 12 * 60
    response = admin_client_web.post(
        f"/admin/businesses/team/{alice.pk}/change/", {"tier": "enterprise", "_save": "Save"}
    )
    assert response.status_code == 302
    assert Mapping.objects.get(business=business).batch.group.interval_minutes == 6 * 60
    event = AuditEvent.objects.get(action="team.change")
    assert (event.actor, event.before, event.after) == (
        "admin:admin",
        {"tier": "professional"},
        {"tier": "enterprise"},
    )


def test_a_team_added_in_the_admin_follows_the_team_id_rule(
    admin_client_web: Client, groups: None
) -> None:
    response = admin_client_web.post(
        "/admin/businesses/team/add/", {"team_id": "a b", "tier": "free", "_save": "Save"}
    )
    assert response.status_code == 200  # the form again, with the error
    assert TEAM_ID_INVALID in response.content.decode().replace("&#x27;", "'")
    assert not Team.objects.exists()
    response = admin_client_web.post(
        "/admin/businesses/team/add/", {"team_id": "a-b", "tier": "free", "_save": "Save"}
    )
    assert response.status_code == 302
    assert Team.objects.filter(team_id="a-b").exists()


def test_a_business_deleted_in_the_admin_leaves_its_batch_count_exact(
    admin_client_web: Client, alice: Team
) -> None:
    (business,) = register_google(alice, 1, scrape_types=["reviews"])
    batch = business.mappings.get().batch
    response = admin_client_web.post(
        f"/admin/businesses/business/{business.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not Business.objects.filter(pk=business.pk).exists()
    assert Batch.objects.get(pk=batch.pk).business_count == 0
    assert AuditEvent.objects.filter(action="business.delete", actor="admin:admin").exists()


def test_rows_only_services_write_cannot_be_edited_in_the_admin(
    admin_client_web: Client, alice: Team
) -> None:
    (business,) = register_google(alice, 1, scrape_types=["reviews"])
    mapping = business.mappings.get()
    page = admin_client_web.get(f"/admin/schedules/mapping/{mapping.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # view only
    response = admin_client_web.post(
        f"/admin/schedules/mapping/{mapping.pk}/change/", {"batch": mapping.batch_id + 1}
    )
    assert response.status_code == 403
    response = admin_client_web.post(
        f"/admin/schedules/batch/{mapping.batch_id}/change/",
        {"misfire_policy": "run_once", "overlap_policy": "allow", "business_count": 99},
    )
    assert response.status_code == 302
    batch = Batch.objects.get(pk=mapping.batch_id)
    assert (batch.misfire_policy, batch.overlap_policy, batch.business_count) == (
        "run_once",
        "allow",
        1,
    )
    assert AuditEvent.objects.filter(action="batch.policies", actor="admin:admin").exists()
