"""The top bar's search: a business by name, external id or team, a team by id, an execution by
id or Apify run id; one match opens its page, several are listed by kind, none says so; the
same few queries whatever the data size, each bounded and on an index where the table is big."""

from __future__ import annotations

import re
import uuid

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from playwright.sync_api import Page, expect

from businesses.models import Business
from businesses.selectors import business_lookup
from businesses.services import business_register, team_upsert
from schedules.models import Execution
from schedules.selectors import execution_lookup
from tests.conftest import register_google
from tests.dashboard.conftest import log_in, screenshot
from tests.dashboard.test_executions import finished_execution

URL = "/dashboard/search/"
RUN_ID = "HG7ML7M8z78YcAPEB"
PLACE_ID = "ChIJN1t_tDeuEmsRUsoyG83frY4"


def search_box(page: Page):
    return page.get_by_role("search").get_by_label("Find a business, team or execution")


@pytest.mark.django_db(transaction=True)
def test_an_operator_types_a_name_or_an_execution_id_and_lands_on_its_page(
    page: Page, operator, alice, bob
) -> None:
    harbour = register_google(alice, name="Harbour Hotel")[0]
    register_google(bob, name="Mountain Inn")
    execution = finished_execution(
        Business.objects.get(id=harbour.id).mappings.first().batch, 30, apify_run_id=RUN_ID
    )
    log_in(page)

    search_box(page).fill("harbour")
    search_box(page).press("Enter")
    expect(page).to_have_url(re.compile(rf"/dashboard/businesses/{harbour.id}/$"))
    expect(page.get_by_role("heading", name="Harbour Hotel")).to_be_visible()

    search_box(page).fill(str(execution.id))
    search_box(page).press("Enter")
    expect(page).to_have_url(re.compile(rf"/dashboard/executions/{execution.id}/$"))

    search_box(page).fill(RUN_ID)
    search_box(page).press("Enter")
    expect(page).to_have_url(re.compile(rf"/dashboard/executions/{execution.id}/$"))

    search_box(page).fill("bob")  # the team and its business: listed, grouped by kind
    search_box(page).press("Enter")
    expect(page).to_have_url(re.compile(r"/dashboard/search/\?q=bob$"))
    expect(page.get_by_test_id("search-teams")).to_contain_text("bob")
    expect(page.get_by_test_id("search-businesses")).to_contain_text("Mountain Inn")
    expect(page.get_by_test_id("search-executions")).to_have_count(0)
    expect(search_box(page)).to_have_value("bob")  # the box keeps what was asked
    screenshot(page, "search-results")
    page.get_by_role("link", name="Mountain Inn").click()
    expect(page.get_by_role("heading", name="Mountain Inn")).to_be_visible()

    search_box(page).fill("no such thing anywhere")
    search_box(page).press("Enter")
    expect(page.get_by_test_id("search-empty")).to_contain_text("Nothing matches")

    page.goto("/dashboard/businesses/")  # the page's own search box keeps its label
    expect(page.get_by_label("Search")).to_have_count(1)


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("operator", is_staff=True))
    return client


def opens(client, q: str) -> str:
    response = client.get(URL, {"q": q})
    assert response.status_code == 302, f"{q!r} did not open one page"
    return response["Location"]


def listed(client, q: str) -> dict[str, list]:
    response = client.get(URL, {"q": q})
    assert response.status_code == 200
    return {g["kind"]: g["rows"] for g in response.context["groups"]}


def test_one_business_opens_by_name_external_id_or_id(staff, alice, bob) -> None:
    harbour = business_register(
        team=alice, platform="google", external_id=PLACE_ID, name="Harbour Hotel"
    )
    register_google(bob, name="Mountain Inn")
    page = f"/dashboard/businesses/{harbour.id}/"
    assert opens(staff, "HARBOUR hot") == page  # part of the name, any case
    assert opens(staff, PLACE_ID) == page
    assert opens(staff, f"place_id:{PLACE_ID}") == page  # normalised as registering does
    assert opens(staff, "tDeuEmsRUso") == page  # part of the external id
    assert opens(staff, f"#{harbour.id}") == page


def test_a_team_opens_when_it_has_no_business_and_lists_them_otherwise(staff, alice) -> None:
    team_upsert(team_id="dora", tier="free")
    assert opens(staff, "dora") == "/dashboard/teams/dora/"
    businesses = register_google(alice, 2)
    found = listed(staff, "alice")
    assert [t.team_id for t in found["teams"]] == ["alice"]
    assert {b.id for b in found["businesses"]} == {b.id for b in businesses}


def test_an_execution_opens_by_its_id_or_run_id(staff, alice) -> None:
    batch = register_google(alice)[0].mappings.first().batch
    execution = finished_execution(batch, 10, apify_run_id=RUN_ID)
    finished_execution(batch, 20, apify_run_id="SomeOtherRun12345")
    page = f"/dashboard/executions/{execution.id}/"
    assert opens(staff, str(execution.id)) == page
    assert opens(staff, str(execution.id).upper()) == page
    assert opens(staff, RUN_ID) == page
    assert listed(staff, str(uuid.uuid4())) == {}


def test_several_matches_are_grouped_and_none_is_said(staff, alice, bob) -> None:
    register_google(alice, name="Harbour Hotel")
    register_google(bob, name="Lake Hotel")
    found = listed(staff, "hotel")
    assert sorted(b.name for b in found["businesses"]) == ["Harbour Hotel", "Lake Hotel"]
    response = staff.get(URL, {"q": "nothing like it"})
    assert response.context["groups"] == [] and b'data-testid="search-empty"' in response.content
    assert b'data-testid="search-help"' in staff.get(URL).content


@pytest.mark.parametrize(
    "q", ["\x00", "a\x00b", "x" * 5000, "%", "_", "[", "http://[::1", "' OR 1=1 --", "#", "  "]
)
def test_odd_input_never_fails(staff, alice, q: str) -> None:
    register_google(alice, name="Harbour Hotel")
    status = staff.get(URL, {"q": q}).status_code
    # NUL never reaches the view: RejectUnstorableInputMiddleware refuses it for every page.
    assert status == 400 if "\x00" in q else status in (200, 302)


def test_it_is_for_staff_only(client, django_user_model, db) -> None:
    assert client.get(URL, {"q": "x"}).status_code == 302  # to the login page
    client.force_login(django_user_model.objects.create_user("viewer"))
    assert client.get(URL, {"q": "x"}).status_code == 403


def _queries(client, q: str) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(URL, {"q": q}).status_code == 200
    return [query["sql"] for query in captured.captured_queries]


def test_the_same_few_queries_whatever_the_data_size(
    staff, alice, django_assert_max_num_queries
) -> None:
    register_google(alice, 3, name="Harbour Hotel")
    small = _queries(staff, "hotel")
    register_google(alice, 80, name="Harbour Hotel")
    with django_assert_max_num_queries(len(small)):
        response = staff.get(URL, {"q": "hotel"})
    group = response.context["groups"][0]
    assert len(group["rows"]) == 25 and group["more"]
    # Session, user, the dispatch switch of the top bar, then one query per kind of result.
    assert len(small) <= 6
    business_sql = next(sql for sql in small if 'FROM "businesses_business"' in sql)
    assert "LIMIT 26" in business_sql


def _plan(sql: str) -> str:
    """The plan with sequential scans priced out: an index that can serve the query shows."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def test_executions_and_identifiers_are_found_through_indexes(db, alice) -> None:
    business = register_google(alice)[0]
    finished_execution(business.mappings.first().batch, 10, apify_run_id=RUN_ID)
    with CaptureQueriesContext(connection) as captured:
        execution_lookup(q=str(uuid.uuid4()), limit=26)
        execution_lookup(q=RUN_ID, limit=26)
    for query in captured.captured_queries:
        plan = _plan(query["sql"])
        assert "Seq Scan" not in plan and "Index" in plan, plan
    assert execution_lookup(q="not a uuid / too long " * 5, limit=26) == []
    assert Execution.objects.count() == 1

    with CaptureQueriesContext(connection) as captured:
        business_lookup(q=business.external_id, limit=26)
    sql = captured.captured_queries[0]["sql"]
    # The identifier's own condition can use the (platform, platform_key) index.
    assert '"businesses_business"."platform_key" =' in sql and "LIMIT 26" in sql
