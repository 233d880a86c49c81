"""Schemathesis against the project's own OpenAPI schema: generated requests to every
documented operation never get a 5xx, and every answer matches the schema."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis import checks

from access.services import api_key_create
from scheduler_project.wsgi import application
from tests.api.schema_helpers import operator_schema, product_schema

# The schema an operator is served, built as the schema view builds it: fetching it needs a
# key, and there is no database yet while tests are collected (schema_helpers.py).
schema = schemathesis.openapi.from_dict(operator_schema())
schema.app = application

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
WEBHOOK_SECRET = "fuzz-secret"


@pytest.fixture
def keep_test_connection() -> Iterator[None]:
    """Requests go through the real WSGI handler, whose request signals would close the
    test's connection (and its transaction); Django's test client unhooks them the same way."""
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def admin_key(settings, alice, keep_test_connection) -> str:
    settings.APIFY_WEBHOOK_SECRET = WEBHOOK_SECRET
    return api_key_create(name="fuzzer", is_admin=True)[1]


@schema.parametrize()
@hypothesis_settings(
    max_examples=30,
    deadline=None,
    # The same examples on every run: CI is reproducible; widen max_examples to explore.
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_generated_requests_never_fail_the_api(case, admin_key: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Api-Key {admin_key}", "X-Webhook-Secret": WEBHOOK_SECRET},
        checks=CHECKS,
    )


product_api = schemathesis.openapi.from_dict(product_schema())
product_api.app = application


@pytest.fixture
def alice_key(alice, keep_test_connection) -> str:
    return api_key_create(name="alice-fuzzer", team_id="alice")[1]


@product_api.parametrize()
@hypothesis_settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_generated_requests_with_a_team_bound_key_never_fail(case, alice_key: str) -> None:
    """The product schema a product key is served, driven with a key bound to alice: every
    request aims at alice's own paths (other teams' are refused before any view runs, see
    tests/access/test_team_bound_keys.py), so the views themselves meet generated input."""
    if "team_id" in (case.path_parameters or {}):
        case.path_parameters["team_id"] = "alice"
    case.call_and_validate(headers={"Authorization": f"Api-Key {alice_key}"}, checks=CHECKS)
