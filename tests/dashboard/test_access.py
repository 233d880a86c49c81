"""Every dashboard URL is for staff only, discovered from the URLconf so pages added later are
covered too: anonymous → the login page, logged-in non-staff → 403, staff → 200 (pages);
actions (views that accept only POST) answer 403 to non-staff and change nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from access.models import AuditEvent
from businesses.models import Business, CustomInterval, Team
from retry.models import RetryEntry
from schedules.models import Batch, Execution, Mapping
from tests.dashboard.test_executions import finished_execution, triggered_execution

SKIPPED = {"login", "logout"}


@dataclass
class Route:
    name: str  # without the namespace
    params: dict  # parameter name → converter
    post_only: bool

    def __str__(self) -> str:
        return self.name


def _walk(patterns, params: dict) -> list[Route]:
    routes = []
    for entry in patterns:
        converters = {**params, **entry.pattern.converters}
        if isinstance(entry, URLResolver):
            routes += _walk(entry.url_patterns, converters)
        elif isinstance(entry, URLPattern) and entry.name and entry.name not in SKIPPED:
            view_class = getattr(entry.callback, "view_class", None)
            methods = getattr(view_class, "http_method_names", None) or []
            post_only = [m for m in methods if m not in ("options",)] == ["post"]
            routes.append(Route(entry.name, converters, post_only))
    return routes


def dashboard_routes() -> list[Route]:
    _, resolver = get_resolver().namespace_dict["dashboard"]
    return _walk(resolver.url_patterns, {})


ROUTES = dashboard_routes()
PAGES = [r for r in ROUTES if not r.post_only]
ACTIONS = [r for r in ROUTES if r.post_only]


def _takes_execution(route: Route) -> bool:
    return any(
        "execution" in name or type(c).__name__ == "UUIDConverter"
        for name, c in route.params.items()
    )


# An action on an execution is tried on an active one and on a finished one.
ACTION_CASES = [
    pytest.param(route, finished, id=f"{route}{'-finished' if finished else ''}")
    for route in ACTIONS
    for finished in ([False, True] if _takes_execution(route) else [False])
]


@pytest.fixture
def world(db) -> dict:
    """Real objects to fill path parameters with: team, business, batch, executions (one
    active, one finished), a retry entry and a custom interval."""
    active = triggered_execution(team_id="alice", businesses=2)
    finished = finished_execution(active.batch, minutes_ago=30, state="failed")
    business = Business.objects.filter(team_id="alice").order_by("id").first()
    entry = RetryEntry.objects.create(
        business=business,
        scrape_type="reviews",
        next_attempt_at=timezone.now() + timedelta(minutes=5),
        last_error="boom",
    )
    return {
        "team": Team.objects.get(team_id="alice"),
        "business": business,
        "batch": active.batch,
        "execution": active,
        "finished": finished,
        "entry": entry,
    }


def fill(route: Route, world: dict, *, finished: bool = False) -> dict:
    """A value for each path parameter, chosen by its name (and converter)."""
    kwargs = {}
    for name, converter in route.params.items():
        kind = type(converter).__name__  # IntConverter, StringConverter, UUIDConverter, …
        lowered = name.lower()
        if "execution" in lowered or kind == "UUIDConverter":
            value = (world["finished"] if finished else world["execution"]).id
        elif "batch" in lowered or "schedule" in lowered:
            value = world["batch"].id
        elif "business" in lowered:
            value = world["business"].id
        elif "team" in lowered:
            value = world["team"].team_id
        elif "retry" in lowered or "entry" in lowered:
            value = world["entry"].id
        elif "platform" in lowered:
            value = "google"
        elif "scrape_type" in lowered:
            value = "reviews"
        else:
            pytest.fail(
                f"test_access does not know how to fill <{kind} {name}> of dashboard:"
                f"{route.name}; teach fill() about it"
            )
        kwargs[name] = value
    return kwargs


def url_of(route: Route, world: dict, **options: bool) -> str:
    return reverse(f"dashboard:{route.name}", kwargs=fill(route, world, **options))


def _client(username: str | None, *, staff: bool = False) -> Client:
    client = Client()
    if username:
        user = get_user_model().objects.create_user(username, is_staff=staff)
        client.force_login(user)
    return client


def state_fingerprint() -> str:
    """Everything an action could change, as one hash (plus the audit row count)."""
    rows = {
        "audit": AuditEvent.objects.count(),
        "batches": list(
            Batch.objects.order_by("id").values_list(
                "id", "status", "next_run_at", "business_count", "capacity"
            )
        ),
        "executions": list(
            Execution.objects.order_by("id").values_list("id", "state", "error", "finished_at")
        ),
        "businesses": list(Business.objects.order_by("id").values_list("id", "active", "name")),
        "teams": list(Team.objects.order_by("team_id").values_list("team_id", "tier")),
        "mappings": list(Mapping.objects.order_by("id").values_list("id", "batch_id")),
        "custom": list(CustomInterval.objects.order_by("id").values_list("id", "interval_minutes")),
        "retries": list(
            RetryEntry.objects.order_by("id").values_list("id", "state", "next_attempt_at")
        ),
    }
    return hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()


def test_the_dashboard_urls_are_discovered() -> None:
    names = {r.name for r in ROUTES}
    assert {"overview", "executions", "execution", "audit-log"} <= names
    assert {"execution-cancel", "execution-retry"} <= {r.name for r in ACTIONS}


@pytest.mark.parametrize("route", PAGES, ids=str)
def test_a_page_is_for_staff_only(route: Route, world: dict) -> None:
    url = url_of(route, world)

    anonymous = _client(None).get(url)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("dashboard:login") + "?next=")

    assert _client("visitor").get(url).status_code == 403

    assert _client("staff", staff=True).get(url).status_code == 200


@pytest.mark.parametrize(("route", "finished"), ACTION_CASES)
def test_an_action_refuses_non_staff_and_changes_nothing(
    route: Route, finished: bool, world: dict
) -> None:
    url = url_of(route, world, finished=finished)
    form = {"reason": "not allowed", "interval_minutes": "60", "platform": "google"}
    before = state_fingerprint()

    anonymous = _client(None).post(url, form)
    assert anonymous.status_code == 302
    assert anonymous.url.startswith(reverse("dashboard:login"))

    assert _client("visitor").post(url, form).status_code == 403

    assert state_fingerprint() == before


@pytest.mark.parametrize("route", ACTIONS, ids=str)
def test_an_action_answers_405_to_a_staff_get(route: Route, world: dict) -> None:
    assert _client("staff", staff=True).get(url_of(route, world)).status_code == 405


def test_the_fingerprint_sees_a_staff_action(world: dict) -> None:
    """The control: the same check notices a write when staff makes it."""
    before = state_fingerprint()
    url = reverse("dashboard:execution-cancel", kwargs={"execution_id": world["execution"].id})
    assert _client("staff", staff=True).post(url, {"reason": "control"}).status_code == 302
    assert state_fingerprint() != before


def test_the_overview_query_count_does_not_grow_with_rows(client, django_user_model) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from businesses.services import team_upsert
    from schedules.services.assignment import schedule_groups_init
    from schedules.services.batches import batch_trigger
    from tests.conftest import register_google

    user = django_user_model.objects.create_user("op", password="pw", is_staff=True)
    client.force_login(user)
    schedule_groups_init()

    def queries_after_adding(team_id: str, tier: str, count: int) -> int:
        businesses = register_google(team_upsert(team_id=team_id, tier=tier)[0], count)
        batch_trigger(batch_id=businesses[0].mappings.first().batch_id)
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/dashboard/").status_code == 200
        return len(ctx.captured_queries)

    assert queries_after_adding("ten", "free", 10) == queries_after_adding("more", "starter", 200)
