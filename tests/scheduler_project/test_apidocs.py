"""Who may read the OpenAPI schema and the docs page, and how much of the API each caller sees:
operators all of it, product keys the product API only, anonymous callers nothing."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from rest_framework.test import APIClient

from access.services import api_key_create
from businesses.models import Team
from scheduler_project.apidocs import PRODUCT_PATHS
from tests.api.schema_helpers import operator_schema

SCHEMA = "/api/v1/schema/"
DOCS = "/api/v1/docs/"
PRODUCT_OPERATIONS = {
    "team_get", "team_put", "team_businesses_list", "team_businesses_create",
    "team_business_get", "team_business_update", "team_business_delete", "team_business_reviews",
    "webhook_endpoints_list", "webhook_endpoints_create", "webhook_endpoint_get",
    "webhook_endpoint_update", "webhook_endpoint_delete", "webhook_endpoint_rotate_secret",
    "webhook_endpoint_send_test", "webhook_endpoint_deliveries", "webhook_delivery_replay",
}  # fmt: skip


def schema_of(client: Client) -> dict:
    answer = client.get(SCHEMA, HTTP_ACCEPT="application/json")
    assert answer.status_code == 200, answer.content
    return answer.json()


def operations(schema: dict) -> set[str]:
    return {op["operationId"] for methods in schema["paths"].values() for op in methods.values()}


@pytest.mark.django_db
def test_an_anonymous_caller_gets_401_and_no_schema(anonymous_client: APIClient) -> None:
    answer = anonymous_client.get(SCHEMA, HTTP_ACCEPT="application/json")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == "Api-Key"
    assert set(answer.json()) == {"detail"}


@pytest.mark.django_db
def test_an_unknown_key_gets_401(anonymous_client: APIClient) -> None:
    anonymous_client.credentials(HTTP_AUTHORIZATION="Api-Key gs_nope_nope")
    assert anonymous_client.get(SCHEMA).status_code == 401


def test_a_product_key_sees_the_product_api_and_nothing_of_the_operators(
    product_client: APIClient,
) -> None:
    schema = schema_of(product_client)
    assert schema["paths"] and all(path.startswith(PRODUCT_PATHS) for path in schema["paths"])
    assert not any("/admin/" in path or "/webhooks/" in path for path in schema["paths"])
    assert operations(schema) == PRODUCT_OPERATIONS
    # Only the components the product API uses: none of the operators' shapes leak.
    full = operator_schema()["components"]["schemas"]
    assert set(schema["components"]["schemas"]) < set(full)
    assert not any(
        name.startswith(("Batch", "Execution", "Retry")) for name in schema["components"]["schemas"]
    )


def test_a_team_bound_key_sees_the_product_api_too(alice: Team) -> None:
    _, key = api_key_create(name="alice-integration", team_id="alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert operations(schema_of(client)) == PRODUCT_OPERATIONS


def test_an_admin_key_sees_the_whole_api(admin_client_key: APIClient) -> None:
    schema = schema_of(admin_client_key)
    assert {"/api/v1/admin/schedules/", "/api/v1/webhooks/apify/"} <= set(schema["paths"])
    assert operations(schema) > PRODUCT_OPERATIONS
    # The schema the fuzz test runs over is exactly the one operators are served.
    assert schema == operator_schema()


def test_a_staff_session_sees_the_whole_api(staff_client: APIClient) -> None:
    assert schema_of(staff_client) == operator_schema()


def test_a_session_of_a_non_staff_user_is_refused(django_user_model) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("viewer", password="pw"))
    assert client.get(SCHEMA, HTTP_ACCEPT="application/json").status_code == 403
    assert client.get(DOCS, HTTP_ACCEPT="text/html").status_code == 403


@pytest.mark.django_db
def test_the_docs_page_sends_an_anonymous_browser_to_the_login(client: Client) -> None:
    answer = client.get(DOCS, HTTP_ACCEPT="text/html")
    assert answer.status_code == 302
    assert answer["Location"] == "/dashboard/login/?next=/api/v1/docs/"
    # Its script too: nothing of the page is served to a stranger.
    assert client.get(f"{DOCS}?script=", HTTP_ACCEPT="text/html").status_code == 302


def test_the_docs_page_runs_no_inline_script_or_style(staff_client: APIClient) -> None:
    page = staff_client.get(DOCS, HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    scripts = re.findall(r"<script([^>]*)>", html)
    assert scripts and all('src="' in attributes for attributes in scripts)
    assert "<style" not in html and "style=" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "cdn.jsdelivr.net" not in html

    script = staff_client.get(f"{DOCS}?script=", HTTP_ACCEPT="text/html")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert '"validatorUrl": null' in script.content.decode()  # no badge from swagger.io
