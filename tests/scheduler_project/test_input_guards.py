"""Input the service cannot hold or does not take is a 4xx in JSON naming the problem, never a
500 or an HTML page, and writes nothing."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver
from rest_framework import exceptions
from rest_framework.test import APIClient

from access.models import AuditEvent
from businesses.apis.product import BusinessDetailApi
from businesses.models import Business, Team
from scheduler_project import views
from scheduler_project.api import (
    CURSOR_INVALID,
    UNKNOWN_FIELD,
    StrictInputSerializer,
    exception_handler,
)
from scheduler_project.parsers import MAX_JSON_DEPTH, json_depth
from scheduler_project.views import body_too_big_message
from tests.conftest import register_google
from tests.webhooks.test_endpoint import SECRET, post
from webhooks.models import WebhookEvent

TEAMS = "/api/v1/teams"


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(("value", "depth"), [(1, 0), ([], 1), ({"a": [1, {"b": []}]}, 4)])
def test_json_depth_counts_lists_and_objects(value: object, depth: int) -> None:
    assert json_depth(value) == depth


def test_5000_levels_of_json_on_the_product_api_are_a_400(
    product_client: APIClient, alice: Team
) -> None:
    response = product_client.generic(
        "POST", f"{TEAMS}/alice/businesses/", nested(5000), content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]
    assert not Business.objects.exists()


def test_json_just_past_the_limit_is_refused_too(product_client: APIClient, alice: Team) -> None:
    body = '{"platform": "google", "name": ' + nested(MAX_JSON_DEPTH) + "}"
    response = product_client.generic(
        "POST", f"{TEAMS}/alice/businesses/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert "nested deeper than" in response.json()["detail"]


def test_50000_levels_of_json_on_the_webhook_are_a_400_and_store_nothing(
    db: None, settings
) -> None:
    settings.APIFY_WEBHOOK_SECRET = SECRET
    response = post(nested(50_000), raw=True)
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_a_nul_in_the_team_path_is_a_400(product_client: APIClient, alice: Team) -> None:
    response = product_client.get(f"{TEAMS}/ali%00ce/businesses/")
    assert response.status_code == 400
    assert response.json() == {"detail": "A NUL character in the path cannot be stored."}


def test_a_nul_in_a_query_parameter_is_a_400(product_client: APIClient, alice: Team) -> None:
    response = product_client.get(f"{TEAMS}/alice/businesses/?platform=goo%00gle")
    assert response.status_code == 400
    assert "query parameter 'platform'" in response.json()["detail"]


def test_a_nul_in_a_dashboard_form_is_a_400_and_changes_nothing(
    db: None, django_user_model
) -> None:
    client = Client()
    client.force_login(django_user_model.objects.create_user("op", password="x", is_staff=True))
    response = client.post("/dashboard/schedules/1/pause/", {"reason": "maint\x00enance"})
    assert response.status_code == 400
    assert b"form field 'reason'" in response.content
    assert not AuditEvent.objects.exists()


# --- bodies over the size limit: a 413 in JSON, nothing read, nothing written -----------------


def test_a_json_body_over_the_limit_is_a_413_in_json(
    product_client: APIClient, alice: Team
) -> None:
    body = '{"platform": "google", "name": "' + "x" * 3_000_000 + '"}'  # over Django's 2.5 MB
    response = product_client.generic(
        "POST", f"{TEAMS}/alice/businesses/", body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json() == {"detail": body_too_big_message()}
    assert "2,621,440 bytes" in response.json()["detail"]
    assert not Business.objects.exists()


def test_a_form_body_over_the_limit_is_a_413_in_json_too(
    product_client: APIClient, alice: Team, settings
) -> None:
    # Read (for NULs) by the middleware before any view: Django's HTML 400 without the guard.
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = product_client.generic(
        "POST",
        f"{TEAMS}/alice/businesses/",
        "platform=google&name=" + "x" * 20_000,
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 413
    assert response.json() == {"detail": body_too_big_message()}
    assert not Business.objects.exists()


def test_a_webhook_body_over_the_limit_is_a_413_in_json_and_stores_nothing(
    db: None, settings
) -> None:
    settings.APIFY_WEBHOOK_SECRET = SECRET
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = post({"eventType": "ACTOR.RUN.SUCCEEDED", "resource": {"id": "r" * 20_000}})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "bytes this service accepts" in response.json()["detail"]
    assert not WebhookEvent.objects.exists()


def test_djangos_400_and_403_pages_answer_json_on_api_paths() -> None:
    # handler400 / handler403 (scheduler_project/urls.py): for errors raised outside a view.
    api, page = RequestFactory().post("/api/v1/teams/"), RequestFactory().post("/dashboard/")
    too_big = views.bad_request(api, RequestDataTooBig("over"))
    assert (too_big.status_code, json.loads(too_big.content)) == (
        413,
        {"detail": body_too_big_message()},
    )
    assert json.loads(views.bad_request(api, SuspiciousOperation("x")).content) == {
        "detail": "Bad request."
    }
    assert views.permission_denied(api, PermissionDenied()).status_code == 403
    assert views.bad_request(page, RequestDataTooBig("over"))["Content-Type"].startswith(
        "text/html"
    )


# --- errors in DRF's shape: `detail` is one string, field errors name their field -------------


@pytest.mark.parametrize(
    ("exc", "status", "body"),
    [
        (DjangoValidationError("Bad."), 400, {"detail": "Bad."}),
        (DjangoValidationError(["One.", "Two."]), 400, {"detail": "One. Two."}),
        (DjangoValidationError({"since": ["Bad."]}), 400, {"since": ["Bad."]}),
        (exceptions.ValidationError("Bad."), 400, {"detail": "Bad."}),
        (exceptions.ValidationError({"detail": ["A", "B"]}), 400, {"detail": "A B"}),
        (exceptions.NotFound(), 404, {"detail": "Not found."}),
    ],
)
def test_the_exception_handler_answers_detail_as_one_string(
    exc: Exception, status: int, body: dict
) -> None:
    response = exception_handler(exc, {})
    assert (response.status_code, response.data) == (status, body)


def _cursor(query: str) -> str:
    return base64.b64encode(query.encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",  # not base64: DRF answered a 404
        _cursor("p=nope"),  # a position that is no moment: it reached the database (list detail)
        _cursor("p=9999-99-99"),
        _cursor("o=-5&p=2026-01-01"),
        _cursor("r=x"),
        _cursor("p=\x00"),
    ],
)
def test_a_bad_cursor_on_the_reviews_feed_is_a_400_naming_cursor(
    product_client: APIClient, alice: Team, cursor: str
) -> None:
    (business,) = register_google(alice)
    url = f"{TEAMS}/alice/businesses/{business.id}/reviews/"
    response = product_client.get(url, {"cursor": cursor})
    assert response.status_code == 400
    assert response.json() == {"cursor": [CURSOR_INVALID]}


@pytest.mark.parametrize(
    "since", ["yesterday", "2026-13-45T00:00:00Z", "9999-12-31T23:59:59-12:00"]
)
def test_a_bad_since_on_the_reviews_feed_is_a_400_naming_since(
    product_client: APIClient, alice: Team, since: str
) -> None:
    (business,) = register_google(alice)
    url = f"{TEAMS}/alice/businesses/{business.id}/reviews/"
    response = product_client.get(url, {"since": since})
    assert response.status_code == 400
    assert list(response.json()) == ["since"]
    assert all(isinstance(m, str) for m in response.json()["since"])


# --- unknown body fields are a 400 naming each one; query-string filters stay lenient ---------


def test_a_patch_with_an_unknown_field_is_a_400_and_changes_nothing(
    product_client: APIClient, alice: Team
) -> None:
    (business,) = register_google(alice, name="Joe's")
    url = f"{TEAMS}/alice/businesses/{business.id}/"
    response = product_client.patch(url, {"name": "New", "colour": "red", "actve": False})
    assert response.status_code == 400
    assert response.json() == {"colour": [UNKNOWN_FIELD], "actve": [UNKNOWN_FIELD]}
    business.refresh_from_db()
    assert (business.name, business.active) == ("Joe's", True)


def test_unknown_fields_are_named_beside_the_fields_own_errors(
    product_client: APIClient, alice: Team
) -> None:
    response = product_client.post(
        f"{TEAMS}/alice/businesses/", {"platform": "myspace", "external_id": "x", "url": "y"}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"platform", "url"}
    assert response.json()["url"] == [UNKNOWN_FIELD]
    assert not Business.objects.exists()


def test_a_team_put_with_an_unknown_field_creates_nothing(
    product_client: APIClient, groups: None
) -> None:
    response = product_client.put(f"{TEAMS}/acme/", {"tier": "free", "name": "Acme"})
    assert (response.status_code, response.json()) == (400, {"name": [UNKNOWN_FIELD]})
    assert not Team.objects.exists()


def test_an_operator_write_with_an_unknown_field_is_refused_too(
    admin_client_key: APIClient, groups: None
) -> None:
    response = admin_client_key.post("/api/v1/admin/dispatch/pause/", {"reason": "x", "now": 1})
    assert (response.status_code, response.json()) == (400, {"now": [UNKNOWN_FIELD]})
    assert not admin_client_key.get("/api/v1/admin/dispatch/").json()["paused"]


def test_query_string_filters_stay_lenient(product_client: APIClient, alice: Team) -> None:
    assert product_client.get(f"{TEAMS}/alice/businesses/?colour=red").status_code == 200


def test_a_sessions_csrf_form_field_is_not_an_unknown_field() -> None:
    serializer = BusinessDetailApi.InputSerializer(data={"name": "x", "csrfmiddlewaretoken": "t"})
    assert serializer.is_valid(), serializer.errors


def _api_views() -> Iterator[type]:
    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, object]]:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            else:
                yield prefix + str(pattern.pattern), pattern.callback

    for route, callback in walk(get_resolver().url_patterns, "/"):
        if route.startswith("/api/") and hasattr(callback, "view_class"):
            yield callback.view_class


def test_every_input_serializer_of_the_api_is_strict_but_the_webhooks() -> None:
    lenient = {
        view.__name__
        for view in _api_views()
        if hasattr(view, "InputSerializer")
        and not issubclass(view.InputSerializer, StrictInputSerializer)
    }
    # Apify writes the webhook's body: a field it adds must not refuse every callback.
    assert lenient == {"ApifyWebhookApi"}


# --- a write missing its trailing slash: a 404 naming the path, never a body-dropping 301 ------

DJANGO_COMMON = "django.middleware.common.CommonMiddleware"
API_COMMON = "scheduler_project.middleware.ApiCommonMiddleware"


@pytest.fixture
def api_common(settings) -> None:
    """ApiCommonMiddleware in CommonMiddleware's place, as settings.MIDDLEWARE has it."""
    settings.MIDDLEWARE = [API_COMMON if m == DJANGO_COMMON else m for m in settings.MIDDLEWARE]
    assert API_COMMON in settings.MIDDLEWARE


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "alice/businesses", {"platform": "google", "external_id": "ChIJ" + "a" * 20}),
        ("put", "alice", {"tier": "enterprise"}),
        ("patch", "alice/businesses/{id}", {"name": "New"}),
        ("delete", "alice/businesses/{id}", None),
    ],
)
def test_an_api_write_without_its_trailing_slash_is_a_404_naming_the_path(
    product_client: APIClient, alice: Team, api_common: None, method: str, path: str, body: object
) -> None:
    (business,) = register_google(alice, name="Joe's")
    path = f"{TEAMS}/{path.format(id=business.id)}"
    response = getattr(product_client, method)(path, body, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Not found. Did you mean {path}/ ?"}
    assert list(Business.objects.values_list("id", "name")) == [(business.id, "Joe's")]
    assert Team.objects.get(team_id="alice").tier == "professional"


def test_the_webhook_without_its_trailing_slash_is_a_404_too(db: None, api_common: None) -> None:
    response = Client().post(
        "/api/v1/webhooks/apify", "{}", content_type="application/json", HTTP_X_WEBHOOK_SECRET="x"
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found. Did you mean /api/v1/webhooks/apify/ ?"}


def test_a_read_without_its_slash_still_redirects_and_other_paths_keep_djangos_rules(
    product_client: APIClient, alice: Team, api_common: None
) -> None:
    response = product_client.get(f"{TEAMS}/alice/businesses")
    assert (response.status_code, response["Location"]) == (301, f"{TEAMS}/alice/businesses/")
    assert Client().post("/dashboard/login").status_code == 301  # not an API path


def test_unknown_api_paths_and_methods_answer_json(
    product_client: APIClient, alice: Team, api_common: None
) -> None:
    missing = product_client.post("/api/v1/nowhere", {}, format="json")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not found."})
    wrong = product_client.delete(f"{TEAMS}/alice/")
    assert (wrong.status_code, wrong.json()) == (405, {"detail": 'Method "DELETE" not allowed.'})
