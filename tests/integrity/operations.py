"""What operators and product services do, as operations a test can run in any order and on
any number of threads: the product API, the operators' API, dashboard forms, Django-admin
forms, and the periodic work a worker does (the dispatch tick, the expiry sweep).

Each operation draws its arguments from a `Pick` (a seeded `random.Random` for the threaded
run, hypothesis' `data()` for the state machine) and returns what it did and the answer it
got; `ALLOWED` says which answers a user may see for it. Anything else, and any 5xx, is a
failure of the service.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from typing import Any, Protocol

import httpx
from django.core.management import CommandError, call_command
from django.test import Client

from businesses.models import Business, Team
from businesses.selectors import effective_intervals
from businesses.services import custom_intervals_expire
from scheduler_project.dbclock import db_now
from schedules.models import Batch, Mapping
from schedules.services.dispatch import dispatch_tick

TIERS = ["free", "starter", "professional", "enterprise"]
INTERVALS = [15, 60, 360, 1440, 4320]
PLATFORM_URLS = {
    "google": None,  # a place id
    "facebook": "https://www.facebook.com/page-{n}",
    "tripadvisor": "https://www.tripadvisor.com/Restaurant_Review-g187147-d{n}-Reviews-X.html",
    "booking": "https://www.booking.com/hotel/fr/hotel-{n}.html",
}


class Pick(Protocol):
    def choice(self, options: Sequence[Any]) -> Any: ...

    def chance(self, percent: int) -> bool: ...


class RandomPick:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def choice(self, options: Sequence[Any]) -> Any:
        return self.rng.choice(list(options))

    def chance(self, percent: int) -> bool:
        return self.rng.randrange(100) < percent


class DataPick:
    """hypothesis' interactive draws, so a failing sequence shrinks to its shortest form."""

    def __init__(self, data: Any) -> None:
        from hypothesis import strategies as st

        self.data, self.st = data, st

    def choice(self, options: Sequence[Any]) -> Any:
        return self.data.draw(self.st.sampled_from(list(options)))

    def chance(self, percent: int) -> bool:
        return self.data.draw(self.st.integers(0, 99)) < percent


class Caller(Protocol):
    def api(self, method: str, path: str, body: dict | None = None, *, admin: bool = False) -> int:
        """A call of /api/v1 with the product key (or the admin key); the status code."""

    def form(self, path: str, data: dict) -> int:
        """A form POST by a logged-in staff operator (dashboard or Django admin)."""


class InProcessCaller:
    """Django's test client: same process and transaction as the test (the state machine)."""

    def __init__(self, product_key: str, admin_key: str, staff: Any) -> None:
        self.keys = {False: product_key, True: admin_key}
        self.client = Client()
        self.staff = Client()
        self.staff.force_login(staff)

    def api(self, method: str, path: str, body: dict | None = None, *, admin: bool = False) -> int:
        return self.client.generic(
            method,
            "/api/v1" + path,
            data=json.dumps(body) if body is not None else "",
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Api-Key {self.keys[admin]}",
        ).status_code

    def form(self, path: str, data: dict) -> int:
        return self.staff.post(path, data).status_code


class HttpCaller:
    """Real HTTP against a live server: one client per thread, the operator logged in
    through the login form with its CSRF token, as a browser would."""

    def __init__(self, base_url: str, product_key: str, admin_key: str, password: str) -> None:
        self.keys = {False: product_key, True: admin_key}
        self.client = httpx.Client(base_url=base_url, timeout=120)
        self.browser = httpx.Client(base_url=base_url, timeout=120)
        self.browser.get("/dashboard/login/")
        answer = self.browser.post(
            "/dashboard/login/",
            data={
                "username": "operator",
                "password": password,
                "csrfmiddlewaretoken": self.browser.cookies["csrftoken"],
            },
        )
        assert answer.status_code == 302, answer.text[:300]

    def api(self, method: str, path: str, body: dict | None = None, *, admin: bool = False) -> int:
        headers = {"Authorization": f"Api-Key {self.keys[admin]}"}
        return self.client.request(method, "/api/v1" + path, json=body, headers=headers).status_code

    def form(self, path: str, data: dict) -> int:
        data = {**data, "csrfmiddlewaretoken": self.browser.cookies["csrftoken"]}
        return self.browser.post(path, data=data).status_code

    def close(self) -> None:
        self.client.close()
        self.browser.close()


@dataclass
class World:
    """The names an operation may aim at: a few teams (so operations collide), identifiers
    from a small pool (so registrations collide), and any business or batch in the database
    (a deleted one included, as a stale page would)."""

    teams: Sequence[str]
    identifiers: int = 12

    def seed(self, caller: Caller, pick: Pick) -> None:
        """Each team exists with a few businesses, so operations meet real rows."""
        for team in self.teams:
            assert caller.api("PUT", f"/teams/{team}/", {"tier": pick.choice(TIERS)}) == 201
            for _ in range(3):
                assert business_register(caller, World([team], self.identifiers), pick) in {
                    201,
                    409,
                }

    def team(self, pick: Pick) -> str:
        return pick.choice(self.teams)

    def business(self, pick: Pick) -> tuple[str, int]:
        rows = list(
            Business.objects.filter(team_id__in=self.teams).values_list("team_id", "id")[:50]
        )
        return pick.choice(rows) if rows else (self.team(pick), 10**9)

    def batch(self, pick: Pick) -> int:
        ids = list(Batch.objects.order_by("id").values_list("id", flat=True)[:50])
        return pick.choice(ids) if ids else 10**9


# --- the operations --------------------------------------------------------------------------


def team_put(c: Caller, w: World, p: Pick) -> int:
    return c.api("PUT", f"/teams/{w.team(p)}/", {"tier": p.choice(TIERS)})


def business_register(c: Caller, w: World, p: Pick) -> int:
    platform = p.choice(sorted(PLATFORM_URLS))
    n = p.choice(range(w.identifiers))
    template = PLATFORM_URLS[platform]
    external_id = f"ChIJintegrity{n:013d}" if template is None else template.format(n=n + 1)
    body = {"platform": platform, "external_id": external_id}
    if p.chance(50):
        body["scrape_types"] = p.choice([["reviews"], ["overview"], ["reviews", "overview"]])
    return c.api("POST", f"/teams/{w.team(p)}/businesses/", body)


def business_patch(c: Caller, w: World, p: Pick) -> int:
    team, business = w.business(p)
    body = p.choice([{"name": "Renamed"}, {"active": False}, {"active": True}])
    return c.api("PATCH", f"/teams/{team}/businesses/{business}/", body)


def business_delete(c: Caller, w: World, p: Pick) -> int:
    team, business = w.business(p)
    return c.api("DELETE", f"/teams/{team}/businesses/{business}/")


def custom_interval_set(c: Caller, w: World, p: Pick) -> int:
    body: dict = {"interval_minutes": p.choice(INTERVALS), "reason": "integrity run"}
    if p.chance(50):
        body["platform"] = p.choice(sorted(PLATFORM_URLS))
    if p.chance(50):  # soon over: the expiry sweep moves the team back
        body["expires_at"] = (db_now() + timedelta(seconds=p.choice([2, 3, 600]))).isoformat()
    return c.api("PUT", f"/admin/teams/{w.team(p)}/custom-interval/", body, admin=True)


def custom_interval_remove(c: Caller, w: World, p: Pick) -> int:
    query = f"?platform={p.choice(sorted(PLATFORM_URLS))}" if p.chance(50) else ""
    return c.api("DELETE", f"/admin/teams/{w.team(p)}/custom-interval/{query}", admin=True)


def force_retry(c: Caller, w: World, p: Pick) -> int:
    _, business = w.business(p)
    return c.api("POST", f"/admin/businesses/{business}/retry/", {"reason": "r"}, admin=True)


def rebalance(c: Caller, w: World, p: Pick) -> int:
    return c.api("POST", "/admin/schedules/rebalance/", {}, admin=True)


def batch_pause_until(c: Caller, w: World, p: Pick) -> int:
    until = (db_now() + timedelta(seconds=p.choice([2, 600]))).isoformat()
    body = {"reason": "integrity run", "until": until}
    return c.api("POST", f"/admin/schedules/{w.batch(p)}/pause/", body, admin=True)


def batch_resume(c: Caller, w: World, p: Pick) -> int:
    return c.api("POST", f"/admin/schedules/{w.batch(p)}/resume/", {}, admin=True)


def dashboard_batch_pause(c: Caller, w: World, p: Pick) -> int:
    return c.form(f"/dashboard/schedules/{w.batch(p)}/pause/", {"reason": "integrity run"})


def dashboard_batch_resume(c: Caller, w: World, p: Pick) -> int:
    return c.form(f"/dashboard/schedules/{w.batch(p)}/resume/", {})


def dashboard_custom_interval(c: Caller, w: World, p: Pick) -> int:
    data = {"interval_minutes": p.choice(INTERVALS), "platform": "", "reason": "dashboard"}
    return c.form(f"/dashboard/teams/{w.team(p)}/custom-interval/", data)


def dashboard_force_retry(c: Caller, w: World, p: Pick) -> int:
    _, business = w.business(p)
    return c.form(f"/dashboard/businesses/{business}/retry/", {"reason": "dashboard"})


def admin_team_tier(c: Caller, w: World, p: Pick) -> int:
    data = {"tier": p.choice(TIERS), "_save": "Save"}
    return c.form(f"/admin/businesses/team/{w.team(p)}/change/", data)


def admin_business_change(c: Caller, w: World, p: Pick) -> int:
    _, business = w.business(p)
    data = {"name": "From the admin", "_save": "Save"}
    if p.chance(70):
        data["active"] = "on"
    return c.form(f"/admin/businesses/business/{business}/change/", data)


def admin_business_delete(c: Caller, w: World, p: Pick) -> int:
    _, business = w.business(p)
    return c.form(f"/admin/businesses/business/{business}/delete/", {"post": "yes"})


def worker_dispatch_tick(c: Caller, w: World, p: Pick) -> int:
    """What the dispatch task does on each beat tick (no HTTP: a worker's own call)."""
    dispatch_tick()
    return 0


def worker_expire_custom_intervals(c: Caller, w: World, p: Pick) -> int:
    custom_intervals_expire()
    return 0


Operation = Callable[[Caller, World, Pick], int]
REDIRECT = {302}  # a form answers with a redirect; errors are messages on the next page
ALLOWED: dict[Operation, set[int]] = {
    team_put: {200, 201},
    business_register: {201, 404, 409},
    business_patch: {200, 404},
    business_delete: {204, 404},
    # 400: an expiry two seconds ahead can be past by the time a loaded server reads it.
    custom_interval_set: {200, 201, 400, 404},
    # 400 names `platform` when the team has no such override to remove.
    custom_interval_remove: {204, 400, 404},
    force_retry: {200, 202, 404, 409},
    rebalance: {200},
    batch_pause_until: {200, 404, 409},
    batch_resume: {200, 404, 409},
    dashboard_batch_pause: {*REDIRECT, 404},
    dashboard_batch_resume: {*REDIRECT, 404},
    dashboard_custom_interval: {*REDIRECT, 404},
    dashboard_force_retry: {*REDIRECT, 404},
    admin_team_tier: {*REDIRECT, 200},
    admin_business_change: {*REDIRECT, 200},
    admin_business_delete: {*REDIRECT, 200},
    worker_dispatch_tick: {0},
    worker_expire_custom_intervals: {0},
}
OPERATIONS: list[Operation] = list(ALLOWED)


def assert_consistent() -> None:
    """validate_global_schedules exits 0 (it raises CommandError otherwise), every mapping
    sits in the group of its business's effective interval, and every active business has
    one mapping per scrape type."""
    out = StringIO()
    try:
        call_command("validate_global_schedules", stdout=out, stderr=StringIO())
    except CommandError as exc:
        raise AssertionError(f"{exc}\n{out.getvalue()}") from None
    intervals = effective_intervals(Team.objects.all())
    for mapping in Mapping.objects.select_related("business", "batch__group"):
        business = mapping.business
        wanted = intervals[(business.team_id, business.platform)]
        assert mapping.batch.group.interval_minutes == wanted, (business.id, wanted)
    for business in Business.objects.filter(active=True):
        mapped = set(
            Mapping.objects.filter(business=business).values_list("scrape_type", flat=True)
        )
        assert mapped == set(business.scrape_types), (business.id, mapped)
