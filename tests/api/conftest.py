"""API clients for each kind of caller."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from access.models import ApiKey
from access.services import api_key_create


def _client_with_key(name: str, *, is_admin: bool) -> APIClient:
    row, key = api_key_create(name=name, is_admin=is_admin)
    # A key in steady use: "last used" is refreshed once a minute, so query counts measured
    # in tests are those of every other request.
    ApiKey.objects.filter(id=row.id).update(last_used_at=timezone.now())
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.fixture
def product_client(db: None) -> APIClient:
    """A product service's key: the product API only."""
    return _client_with_key("reviews-service", is_admin=False)


@pytest.fixture
def admin_client_key(db: None) -> APIClient:
    """An operator tool's admin key: product and admin API."""
    return _client_with_key("ops-tool", is_admin=True)


@pytest.fixture
def staff_client(db: None, django_user_model) -> APIClient:
    """A logged-in staff user (the dashboard's session; CSRF enforced like a browser)."""
    user = django_user_model.objects.create_user("operator", password="pw", is_staff=True)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def anonymous_client() -> APIClient:
    return APIClient()
