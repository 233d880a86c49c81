"""Operator commands: scheduler_health (text, JSON, exit codes) and rebalance_schedules /
consolidate_schedules (dry run writes nothing; a real run moves and audits)."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import call_command

from access.models import AuditEvent
from businesses.models import Team
from schedules.models import Batch, Mapping, ScheduleGroup
from schedules.services.operations import groups_rebalance
from tests.api.admin_helpers import batch_of
from tests.conftest import register_google
from tests.monitoring.test_health import CHECK_NAMES, beat, make_batches, make_retries
from tests.schedules.helpers import assert_counts_exact


def run(*args: str) -> tuple[int, str]:
    """(exit code, stdout) of a management command."""
    out = StringIO()
    try:
        call_command(*args, stdout=out)
    except SystemExit as exit_:
        return int(exit_.code), out.getvalue()
    return 0, out.getvalue()


# ---------------------------------------------------------------- scheduler_health


def test_health_is_0_and_healthy_with_a_fresh_dispatcher(db: None) -> None:
    beat(5)
    make_batches(2, business_count=10, capacity=100)
    code, out = run("scheduler_health")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "status: healthy"
    for name in CHECK_NAMES:
        assert any(f"] {name}: " in line for line in lines[1:]), name
    assert "Last dispatcher tick" in out


def test_health_is_1_on_a_warning(db: None) -> None:
    beat(5)
    make_retries(11, "pending")
    code, out = run("scheduler_health")
    assert code == 1
    assert out.splitlines()[0] == "status: warning"
    assert "[WARN] pending_retries: 11 retry entries pending, more than the warning" in out


def test_health_is_2_on_many_dead_retries(db: None) -> None:
    beat(5)
    make_retries(11, "dead")
    code, out = run("scheduler_health")
    assert code == 2
    assert out.splitlines()[0] == "status: critical"
    assert "[CRIT] dead_retries: 11 retry entries dead" in out


def test_health_is_2_when_no_dispatcher_ever_ticked(db: None) -> None:
    code, out = run("scheduler_health")
    assert code == 2
    assert "[CRIT] dispatcher_heartbeat: No dispatcher has ever ticked." in out


def test_health_json_has_the_status_and_every_check(db: None) -> None:
    beat(5)
    make_batches(1, business_count=99, capacity=100)  # 99 % used: critical
    code, out = run("scheduler_health", "--json")
    assert code == 2
    body = json.loads(out)
    assert body["status"] == "critical"
    assert [c["name"] for c in body["checks"]] == CHECK_NAMES
    utilisation = body["checks"][0]
    assert (utilisation["status"], utilisation["value"], utilisation["threshold"]) == (
        "critical",
        99.0,
        95.0,
    )
    assert all(c["reason"] for c in body["checks"])


# ---------------------------------------------------------------- rebalance / consolidate


def _uneven_group(alice: Team) -> tuple[ScheduleGroup, Batch, Batch]:
    """Alice's google/reviews/720 group with 4 businesses in batch 0 and none in batch 1."""
    businesses = register_google(alice, 4, scrape_types=["reviews"])
    first = batch_of(businesses[0])
    second = Batch.objects.create(
        group=first.group, batch_index=1, capacity=first.capacity, next_run_at=first.next_run_at
    )
    return first.group, first, second


def _state() -> tuple[list, list, int]:
    return (
        sorted(Mapping.objects.values_list("id", "batch_id")),
        sorted(Batch.objects.values_list("id", "business_count", "status")),
        AuditEvent.objects.count(),
    )


def test_rebalance_dry_run_shows_the_moves_and_writes_nothing(alice: Team) -> None:
    group, _, _ = _uneven_group(alice)
    before = _state()
    code, out = run("rebalance_schedules", "--dry-run", "--platform", "google")
    assert code == 0
    assert _state() == before
    assert (
        f"[dry run] would rebalance google/reviews every 720 min (group {group.id}): "
        "moved 2, retired 0; batches #0:4 #1:0 → #0:2 #1:2"
    ) in out
    assert out.splitlines()[-1].startswith("Dry run, nothing written.")
    assert "2 mappings moved" in out


def test_rebalance_moves_and_audits_as_manage_py(alice: Team) -> None:
    group, first, second = _uneven_group(alice)
    code, out = run(
        "rebalance_schedules",
        "--platform=google",
        "--scrape-type=reviews",
        "--interval=720",
        "--reason=even out",
    )
    assert code == 0
    assert "batches #0:4 #1:0 → #0:2 #1:2" in out
    assert "1 groups checked, 1 changed: 2 mappings moved, 0 batches retired." in out
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.business_count, second.business_count) == (2, 2)
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.actor, event.action, event.object_id, event.reason) == (
        "manage.py",
        "group.rebalance",
        str(group.id),
        "even out",
    )


def test_rebalance_filters_select_groups(alice: Team) -> None:
    _uneven_group(alice)
    before = _state()
    code, out = run("rebalance_schedules", "--interval=60")
    assert code == 0
    assert _state() == before
    assert "0 changed" in out


def test_consolidate_dry_run_writes_nothing_and_the_real_run_retires(alice: Team) -> None:
    group, _, _ = _uneven_group(alice)
    groups_rebalance(platform="google")
    AuditEvent.objects.all().delete()
    before = _state()
    code, out = run("consolidate_schedules", "--dry-run", "--platform=google")
    assert code == 0
    assert _state() == before
    assert "moved 2, retired 1; batches #0:2 #1:2 → #0:4" in out

    code, out = run("consolidate_schedules", "--platform=google")
    assert code == 0
    assert "[dry run]" not in out and "moved 2, retired 1" in out
    assert sorted(Batch.objects.filter(group=group).values_list("status", flat=True)) == [
        "active",
        "retired",
    ]
    assert_counts_exact()
    event = AuditEvent.objects.get()
    assert (event.actor, event.action) == ("manage.py", "group.consolidate")


def test_a_bad_filter_is_refused(db: None) -> None:
    with pytest.raises(Exception, match="platform"):
        call_command("rebalance_schedules", "--platform=myspace", stdout=StringIO())
