"""Assignment rules (SPEC §3): best batch, capacity split, stagger, moves, exact counts."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from businesses.models import Business, CustomInterval, Team
from businesses.services import (
    business_delete,
    business_register,
    business_update,
    custom_interval_set,
    custom_intervals_expire,
    team_upsert,
)
from schedules.models import Batch, BatchStatus, Mapping, ScheduleGroup
from schedules.services.assignment import (
    group_consolidate,
    group_rebalance,
    schedule_groups_init,
)
from tests.concurrency import run_concurrently
from tests.conftest import place_id, register_google
from tests.schedules.helpers import assert_counts_exact


def _reviews_batches(interval: int = 720) -> list[Batch]:
    return list(
        Batch.objects.filter(
            group__platform="google", group__scrape_type="reviews", group__interval_minutes=interval
        ).order_by("batch_index")
    )


def test_init_creates_the_32_standard_groups_once(db: None) -> None:
    assert schedule_groups_init() == 32
    assert schedule_groups_init() == 0
    assert ScheduleGroup.objects.filter(is_standard=True).count() == 32


def test_full_batches_split_into_new_ones(settings, alice: Team) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 3}
    register_google(alice, 7, scrape_types=["reviews"])
    assert [(b.batch_index, b.business_count, b.capacity) for b in _reviews_batches()] == [
        (0, 3, 3),
        (1, 3, 3),
        (2, 1, 3),
    ]
    assert_counts_exact()


def test_a_new_business_joins_the_batch_with_most_free_room(settings, alice: Team) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 4}
    businesses = register_google(alice, 8, scrape_types=["reviews"])  # two full batches
    for business in businesses[:2]:  # batch 0: 2 free
        business_delete(business=business)
    business_delete(business=businesses[4])  # batch 1: 1 free
    (newcomer,) = register_google(alice, scrape_types=["reviews"])
    assert newcomer.mappings.get().batch.batch_index == 0
    # Now both have 1 free: the tie goes to the lowest index.
    (second,) = register_google(alice, scrape_types=["reviews"])
    assert second.mappings.get().batch.batch_index == 0
    (third,) = register_google(alice, scrape_types=["reviews"])
    assert third.mappings.get().batch.batch_index == 1
    assert_counts_exact()


def test_batches_of_a_group_are_staggered(settings, alice: Team) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 1}
    settings.SCHEDULER_STAGGER_STEP_MINUTES = 5
    register_google(alice, 3, scrape_types=["reviews"])
    batches = _reviews_batches()
    assert [b.stagger_offset_seconds for b in batches] == [0, 300, 600]
    runs = [b.next_run_at for b in batches]
    assert len(set(runs)) == 3
    # Each batch runs on its own grid: epoch + offset + k × 12 h.
    for batch in batches:
        seconds = int(batch.next_run_at.timestamp())
        assert seconds % (720 * 60) == batch.stagger_offset_seconds


def test_stagger_wraps_inside_short_intervals(settings, alice: Team) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 1}
    custom_interval_set(team=alice, interval_minutes=15)
    register_google(alice, 4, scrape_types=["reviews"])
    assert [b.stagger_offset_seconds for b in _reviews_batches(15)] == [0, 300, 600, 0]


def test_a_tier_change_moves_every_business_of_the_team(alice: Team, bob: Team) -> None:
    register_google(alice, 3)
    register_google(bob, 2)
    team_upsert(team_id="alice", tier="enterprise")
    alice_groups = set(
        Mapping.objects.filter(team_id="alice").values_list(
            "batch__group__interval_minutes", flat=True
        )
    )
    bob_groups = set(
        Mapping.objects.filter(team_id="bob").values_list(
            "batch__group__interval_minutes", flat=True
        )
    )
    assert alice_groups == {360} and bob_groups == {1440}
    assert Mapping.objects.filter(team_id="alice").count() == 6
    assert_counts_exact()


def test_a_custom_interval_moves_one_platform_and_expiry_falls_back(alice: Team) -> None:
    (google,) = register_google(alice)
    booking = business_register(
        team=alice, platform="booking", external_id="https://www.booking.com/hotel/fr/a.html"
    )
    custom_interval_set(
        team=alice,
        interval_minutes=45,
        platform="google",
        expires_at=timezone.now() + timedelta(hours=1),
        reason="trial",
    )
    assert {m.batch.group.interval_minutes for m in google.mappings.all()} == {45}
    assert {m.batch.group.interval_minutes for m in booking.mappings.all()} == {720}

    # Time passes (controlled): the override is now expired; the sweep moves the team back.
    CustomInterval.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert custom_intervals_expire() == 1
    assert {m.batch.group.interval_minutes for m in google.mappings.all()} == {720}
    assert not CustomInterval.objects.exists()
    assert (
        sum(
            Batch.objects.filter(group__interval_minutes=45).values_list(
                "business_count", flat=True
            )
        )
        == 0
    )
    assert_counts_exact()


def test_rebalance_evens_out_a_group(settings, alice: Team) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 10}
    businesses = register_google(alice, 20, scrape_types=["reviews"])
    for business in businesses[:8]:
        business_delete(business=business)  # batch 0: 2, batch 1: 10
    group = _reviews_batches()[0].group
    assert group_rebalance(group=group) == 4
    assert [b.business_count for b in _reviews_batches()] == [6, 6]
    assert_counts_exact()


def test_consolidate_merges_under_used_batches_and_retires_empty_ones(
    settings,
    alice: Team,
) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 10}
    businesses = register_google(alice, 30, scrape_types=["reviews"])
    for business in businesses[:7] + businesses[10:17] + businesses[20:27]:
        business_delete(business=business)  # 3 + 3 + 3
    group = _reviews_batches()[0].group
    moved, retired = group_consolidate(group=group)
    assert (moved, retired) == (6, 2)
    batches = _reviews_batches()
    assert [(b.business_count, b.status) for b in batches].count((0, BatchStatus.RETIRED)) == 2
    assert sum(b.business_count for b in batches) == 9
    # New businesses never go to a retired batch.
    (newcomer,) = register_google(alice, scrape_types=["reviews"])
    assert newcomer.mappings.get().batch.status == BatchStatus.ACTIVE
    assert_counts_exact()


def test_counts_stay_exact_after_1000_random_operations(
    settings,
    alice: Team,
    bob: Team,
    charlie: Team,
) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 5, "booking": 4}
    rng = random.Random(20261125)
    teams = [alice, bob, charlie]
    live: list[Business] = []
    for step in range(1000):
        op = rng.random()
        if op < 0.45 or not live:
            team = rng.choice(teams)
            if rng.random() < 0.5:
                live.extend(register_google(team))
            else:
                live.append(
                    business_register(
                        team=team,
                        platform="booking",
                        external_id=f"https://www.booking.com/hotel/fr/h{step}.html",
                    )
                )
        elif op < 0.65:
            business_delete(business=live.pop(rng.randrange(len(live))))
        elif op < 0.75:
            business = rng.choice(live)
            business_update(business=business, active=not business.active)
        elif op < 0.85:
            team = rng.choice(teams)
            team_upsert(team_id=team.team_id, tier=rng.choice(["free", "starter", "enterprise"]))
        elif op < 0.93:
            custom_interval_set(
                team=rng.choice(teams),
                interval_minutes=rng.choice([15, 60, 720]),
                platform=rng.choice([None, "google", "booking"]),
            )
        else:
            group = rng.choice(list(ScheduleGroup.objects.filter(batches__isnull=False).distinct()))
            rng.choice([group_rebalance, group_consolidate])(group=group)
    assert_counts_exact()
    active = Business.objects.filter(active=True)
    assert Mapping.objects.count() == sum(len(b.scrape_types) for b in active)
    assert not Mapping.objects.filter(business__active=False).exists()


@pytest.mark.django_db(transaction=True)
def test_eight_concurrent_connections_never_overfill_a_batch(settings) -> None:
    settings.SCHEDULER_CAPACITY = {"google": 7}
    schedule_groups_init()
    team = team_upsert(team_id="alice", tier="professional")[0]
    register_google(team, 5, scrape_types=["reviews"])  # batch 0 is nearly full

    def add(worker: int) -> None:
        for n in range(6):
            business_register(
                team=team,
                platform="google",
                external_id=place_id(700_000 + worker * 10 + n),
                scrape_types=["reviews"],
            )

    run_concurrently(add, 8)
    batches = _reviews_batches()
    assert sum(b.business_count for b in batches) == 5 + 8 * 6
    assert all(b.business_count <= 7 for b in batches)
    assert len(batches) == -(-53 // 7)
    assert_counts_exact()
