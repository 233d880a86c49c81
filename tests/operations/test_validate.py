"""validate_global_schedules: a clean database passes; each planted corruption is named by its
check (exit 1), and the repairable ones are repaired by --fix (then a re-run exits 0)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.db.models import F

from businesses.models import Business, CustomInterval, Team
from businesses.services import team_upsert
from schedules.models import Batch, BatchStatus, Mapping
from schedules.validation import CHECKS, Scope, run_checks
from tests.conftest import register_google

COMMAND = "validate_global_schedules"


def run(*args: str) -> tuple[int, str]:
    """(exit code, stdout) of the command, as manage.py would exit."""
    out = StringIO()
    try:
        call_command(COMMAND, *args, stdout=out, stderr=StringIO())
    except CommandError as exc:
        return exc.returncode, out.getvalue()
    return 0, out.getvalue()


def failed_checks(*args: str) -> tuple[int, dict[str, list[dict]]]:
    code, out = run("--json", *args)
    payload = json.loads(out)
    return code, {c["name"]: c["findings"] for c in payload["checks"] if c["status"] == "fail"}


@pytest.fixture
def world(alice: Team, bob: Team) -> dict[str, list[Business]]:
    """Alice (professional) with 3 Google businesses, Bob (starter) with 2: one batch per
    (group, team tier), all consistent."""
    return {"alice": register_google(alice, 3), "bob": register_google(bob, 2)}


def assert_fix_repairs(check: str) -> None:
    code, out = run("--fix")
    assert code == 0, out
    assert "After --fix:" in out
    assert f"{check}" in out.split("After --fix:")[0]
    code, out = run()
    assert code == 0, out
    code, failed = failed_checks()
    assert (code, failed) == (0, {}), failed


def only_failure(check: str, *args: str) -> list[dict]:
    code, failed = failed_checks(*args)
    assert code == 1
    assert set(failed) == {check}, failed
    return failed[check]


# --- clean -----------------------------------------------------------------------------------


def test_clean_database_passes(world: dict) -> None:
    code, out = run()
    assert code == 0, out
    for check in CHECKS:
        assert check.name in out
    assert "FAIL" not in out
    assert f"{len(CHECKS)}/{len(CHECKS)} checks passed" in out


def test_clean_database_passes_with_fix_and_team(world: dict) -> None:
    assert run("--fix")[0] == 0
    assert run("--team", "alice")[0] == 0


def test_json_shape(world: dict) -> None:
    business = world["alice"][0]
    Mapping.objects.filter(business=business, scrape_type="reviews").update(team_id="bob")
    code, out = run("--json")
    assert code == 1
    payload = json.loads(out)
    assert set(payload) >= {"status", "team", "seconds", "checks"}
    assert payload["status"] == "fail"
    assert [c["name"] for c in payload["checks"]] == [c.name for c in CHECKS]
    for check in payload["checks"]:
        assert set(check) == {"name", "title", "status", "seconds", "count", "findings"}
        assert check["status"] in ("ok", "fail")
        assert check["count"] == len(check["findings"])
    (isolation,) = [c for c in payload["checks"] if c["name"] == "mapping_isolation"]
    (finding,) = isolation["findings"]
    assert set(finding) == {"check", "ids", "message", "repairable"}
    assert finding["check"] == "mapping_isolation"
    assert finding["ids"]["business"] == business.id
    assert finding["repairable"] is True

    code, out = run("--json", "--fix")
    payload = json.loads(out)
    assert code == 0
    assert payload["status"] == "ok"
    assert payload["fixed"]["mappings given their business's team/key"] == 1
    assert any(c["status"] == "fail" for c in payload["before_fix"])


def test_unknown_team_is_a_usage_error(world: dict) -> None:
    assert run("--team", "nobody")[0] == 2


def test_exit_code_from_manage_py(world: dict) -> None:
    """CommandError(returncode=1) is what `manage.py` turns into exit status 1."""
    Batch.objects.update(business_count=F("business_count") + 1)
    with pytest.raises(CommandError) as info:
        call_command(COMMAND, stdout=StringIO())
    assert info.value.returncode == 1
    assert "batch_counts" in str(info.value)


# --- (1) missing mappings --------------------------------------------------------------------


def test_missing_mapping(world: dict) -> None:
    business = world["alice"][1]
    mapping = Mapping.objects.get(business=business, scrape_type="overview")
    mapping.delete()
    Batch.objects.filter(id=mapping.batch_id).update(business_count=F("business_count") - 1)

    code, out = run()
    assert code == 1
    assert "missing_mappings" in out and f"business {business.id}" in out
    (finding,) = only_failure("missing_mappings")
    assert finding["ids"] == {"business": business.id}
    assert "overview" in finding["message"]

    assert_fix_repairs("missing_mappings")
    assert Mapping.objects.filter(business=business, scrape_type="overview").exists()


# --- (2) orphan mappings ---------------------------------------------------------------------


def test_orphan_mapping_of_inactive_business(world: dict) -> None:
    business = world["alice"][0]
    Business.objects.filter(id=business.id).update(active=False)

    findings = only_failure("orphan_mappings")
    assert {f["ids"]["business"] for f in findings} == {business.id}
    assert len(findings) == 2
    assert "inactive" in findings[0]["message"]

    assert_fix_repairs("orphan_mappings")
    assert not Mapping.objects.filter(business=business).exists()


def test_orphan_mapping_of_dropped_scrape_type(world: dict) -> None:
    business = world["bob"][0]
    Business.objects.filter(id=business.id).update(scrape_types=["reviews"])

    (finding,) = only_failure("orphan_mappings")
    assert finding["ids"]["business"] == business.id
    assert "no longer has scrape type overview" in finding["message"]

    assert_fix_repairs("orphan_mappings")
    assert list(
        Mapping.objects.filter(business=business).values_list("scrape_type", flat=True)
    ) == ["reviews"]


def test_orphan_mapping_in_retired_batch(world: dict) -> None:
    mapping = Mapping.objects.get(business=world["bob"][0], scrape_type="reviews")
    Batch.objects.filter(id=mapping.batch_id).update(status=BatchStatus.RETIRED)

    findings = only_failure("orphan_mappings")
    assert {f["ids"]["batch"] for f in findings} == {mapping.batch_id}
    assert len(findings) == 2  # both of Bob's Google reviews mappings
    assert "retired" in findings[0]["message"]

    assert_fix_repairs("orphan_mappings")
    assert not Mapping.objects.filter(batch_id=mapping.batch_id).exists()


# --- (3) batch counts ------------------------------------------------------------------------


def test_batch_count_off(world: dict) -> None:
    batch_id = Mapping.objects.filter(business=world["alice"][0]).values_list("batch", flat=True)[0]
    Batch.objects.filter(id=batch_id).update(business_count=7)

    code, out = run()
    assert code == 1
    assert f"batch {batch_id}: business_count is 7, the batch has 3 mappings" in out
    only_failure("batch_counts")

    assert_fix_repairs("batch_counts")
    assert Batch.objects.get(id=batch_id).business_count == 3


# --- (4) duplicate mappings ------------------------------------------------------------------


def test_duplicate_mapping(world: dict) -> None:
    business = world["alice"][2]
    mapping = Mapping.objects.get(business=business, scrape_type="reviews")
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks before ALTER
        cursor.execute(
            "ALTER TABLE schedules_mapping DROP CONSTRAINT mapping_one_per_business_type"
        )
    Mapping.objects.create(
        business=business,
        batch_id=mapping.batch_id,
        scrape_type="reviews",
        team_id=business.team_id,
        platform_key=business.platform_key,
    )
    Batch.objects.filter(id=mapping.batch_id).update(business_count=F("business_count") + 1)

    (finding,) = only_failure("duplicate_mappings")
    assert finding["ids"]["business"] == business.id
    assert finding["ids"]["batches"] == [mapping.batch_id, mapping.batch_id]

    assert_fix_repairs("duplicate_mappings")
    assert Mapping.objects.filter(business=business, scrape_type="reviews").count() == 1
    assert Batch.objects.get(id=mapping.batch_id).business_count == 3


# --- (5) isolation ---------------------------------------------------------------------------


def test_mapping_of_another_team(world: dict) -> None:
    business = world["alice"][0]
    mapping = Mapping.objects.get(business=business, scrape_type="reviews")
    Mapping.objects.filter(id=mapping.id).update(team_id="bob")

    (finding,) = only_failure("mapping_isolation")
    assert finding["ids"] == {"mapping": mapping.id, "business": business.id}
    assert "team 'bob' but the business belongs to 'alice'" in finding["message"]
    # Both teams' scoped runs see it.
    assert "mapping_isolation" in failed_checks("--team", "bob")[1]
    assert "mapping_isolation" in failed_checks("--team", "alice")[1]

    assert_fix_repairs("mapping_isolation")
    assert Mapping.objects.get(id=mapping.id).team_id == "alice"


def test_mapping_with_another_platform_key(world: dict) -> None:
    business = world["bob"][1]
    Mapping.objects.filter(business=business).update(platform_key="ChIJsomeoneelse000000")

    findings = only_failure("mapping_isolation")
    assert {f["ids"]["business"] for f in findings} == {business.id}
    assert "platform key" in findings[0]["message"]

    assert_fix_repairs("mapping_isolation")
    assert set(
        Mapping.objects.filter(business=business).values_list("platform_key", flat=True)
    ) == {business.platform_key}


# --- (6) empty active batches: normal, not dispatched ----------------------------------------


def test_a_batch_emptied_by_a_tier_change_passes_validation(world: dict, alice: Team) -> None:
    """What the product's own flows leave behind is not a finding: alice moves from 12 h to
    6 h, her old batch stays active and empty, and validate exits 0."""
    old = world["alice"][0].mappings.first().batch
    team_upsert(team_id="alice", tier="enterprise")
    old.refresh_from_db()
    assert (old.status, old.business_count) == (BatchStatus.ACTIVE, 0)
    code, failed = failed_checks()
    assert (code, failed) == (0, {})


# --- (7) identifiers -------------------------------------------------------------------------


def test_invalid_identifier_is_reported_not_repaired(world: dict) -> None:
    business = world["alice"][0]
    Business.objects.filter(id=business.id).update(external_id="garbage")

    code, out = run()
    assert code == 1
    assert f"business {business.id}: invalid google identifier 'garbage'" in out
    (finding,) = only_failure("identifiers")
    assert finding["repairable"] is False

    code, out = run("--fix")
    assert code == 1
    assert "identifiers" in out
    assert Business.objects.get(id=business.id).external_id == "garbage"


def test_identifier_with_another_key(world: dict) -> None:
    business = world["bob"][0]
    Business.objects.filter(id=business.id).update(external_id="ChIJsomewhereElse000000")

    (finding,) = only_failure("identifiers")
    assert finding["ids"] == {"business": business.id}
    assert "stored key is" in finding["message"]
    # The --team scope: Alice's run does not look at Bob's businesses.
    assert run("--team", "alice")[0] == 0


def test_a_team_id_stored_before_the_rule_is_reported_not_renamed(world: dict) -> None:
    Team.objects.create(team_id='"><img src=x>', tier="free")

    (finding,) = only_failure("identifiers")
    assert finding["ids"] == {"team": '"><img src=x>'}
    assert "invalid team id" in finding["message"] and finding["repairable"] is False
    assert run("--fix")[0] == 1
    assert Team.objects.filter(team_id='"><img src=x>').exists()
    assert run("--team", "alice")[0] == 0


# --- (8) intervals ---------------------------------------------------------------------------


def test_custom_interval_out_of_range(world: dict, charlie: Team) -> None:
    with connection.cursor() as cursor:  # rolled back with the test's transaction
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending FK checks before ALTER
        cursor.execute(
            "ALTER TABLE businesses_custominterval DROP CONSTRAINT custom_interval_in_range"
        )
    custom = CustomInterval.objects.create(team=charlie, interval_minutes=5)

    (finding,) = only_failure("interval_ranges")
    assert finding["ids"] == {"custom_interval": custom.id, "team": "charlie"}
    assert finding["repairable"] is False
    assert run("--fix")[0] == 1


def test_mappings_in_the_group_of_another_interval(world: dict) -> None:
    """A tier changed behind the services' back: Alice's mappings sit in 12 h groups while
    her effective interval is now 6 h."""
    Team.objects.filter(team_id="alice").update(tier="enterprise")

    findings = only_failure("group_mismatch")
    assert {f["ids"]["business"] for f in findings} == {b.id for b in world["alice"]}
    assert "group interval 720 min ≠ team's effective 360 min" in findings[0]["message"]

    assert_fix_repairs("group_mismatch")
    intervals = Mapping.objects.filter(team_id="alice").values_list(
        "batch__group__interval_minutes", flat=True
    )
    assert set(intervals) == {360}


# --- (9) next_run_at -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [datetime(2001, 1, 1, tzinfo=UTC), datetime.now(UTC) + timedelta(days=10)],
    ids=["far-past", "far-future"],
)
def test_absurd_next_run_at(world: dict, moment: datetime) -> None:
    batch = Batch.objects.filter(mappings__team_id="alice").first()
    Batch.objects.filter(id=batch.id).update(next_run_at=moment)

    code, out = run()
    assert code == 1 and f"batch {batch.id}" in out
    (finding,) = only_failure("next_run_at")
    assert finding["ids"] == {"batch": batch.id}

    assert_fix_repairs("next_run_at")
    repaired = Batch.objects.get(id=batch.id)
    now = datetime.now(UTC)
    assert now - timedelta(minutes=1) <= repaired.next_run_at <= now + timedelta(minutes=720)
    assert batch.grid().latest_at_or_before(repaired.next_run_at) == repaired.next_run_at  # a slot


# --- the functions, directly -----------------------------------------------------------------


def test_checks_are_plain_functions(world: dict) -> None:
    Batch.objects.update(next_run_at=datetime(2001, 1, 1, tzinfo=UTC))
    results = {r.name: r for r in run_checks(Scope(team="bob"))}
    assert set(results) == {c.name for c in CHECKS}
    # Under --team only the batches holding Bob's mappings are looked at.
    bob_batches = set(Batch.objects.filter(mappings__team_id="bob").values_list("id", flat=True))
    assert {f.ids["batch"] for f in results["next_run_at"].findings} == bob_batches
