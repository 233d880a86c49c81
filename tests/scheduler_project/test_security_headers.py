"""Every answer carries the Content-Security-Policy, X-Frame-Options and Referrer-Policy:
dashboard pages, API answers (refusals included) and the API docs page."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from rest_framework.test import APIClient

from businesses.models import Team

SITE_POLICY = {
    "default-src": {"'self'"},
    "object-src": {"'none'"},
    "base-uri": {"'self'"},
    "form-action": {"'self'"},
    "frame-ancestors": {"'none'"},
}


def policy(answer: HttpResponse) -> dict[str, set[str]]:
    """The Content-Security-Policy header as directive → sources."""
    directives = (part.split() for part in answer["Content-Security-Policy"].split(";"))
    return {name: set(sources) for name, *sources in directives}


def assert_hardened(answer: HttpResponse) -> None:
    assert answer["X-Frame-Options"] == "DENY"
    assert answer["Referrer-Policy"] == "same-origin"


@pytest.mark.django_db
def test_the_dashboard_login_page_has_the_site_policy(client: Client) -> None:
    answer = client.get("/dashboard/login/")
    assert answer.status_code == 200
    assert policy(answer) == SITE_POLICY
    assert_hardened(answer)


def test_a_dashboard_page_has_the_site_policy(django_user_model) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("op", password="pw", is_staff=True))
    answer = client.get("/dashboard/")
    assert answer.status_code == 200
    assert policy(answer) == SITE_POLICY
    assert_hardened(answer)


def test_api_answers_and_refusals_have_the_site_policy(
    product_client: APIClient, anonymous_client: APIClient, alice: Team
) -> None:
    for answer in (
        product_client.get("/api/v1/teams/alice/businesses/"),
        anonymous_client.get("/api/v1/teams/alice/businesses/"),
        product_client.get("/api/v1/admin/schedules/"),
    ):
        assert answer.status_code in (200, 401, 403)
        assert policy(answer) == SITE_POLICY
        assert_hardened(answer)


def test_the_docs_page_adds_data_images_and_nothing_else(staff_client: APIClient) -> None:
    answer = staff_client.get("/api/v1/docs/", HTTP_ACCEPT="text/html")
    assert answer.status_code == 200
    assert policy(answer) == {**SITE_POLICY, "img-src": {"'self'", "data:"}}
    assert_hardened(answer)
